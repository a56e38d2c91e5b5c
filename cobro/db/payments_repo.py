"""All SQL about payments and their transition log. Parameterised statements only."""

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from cobro.db.models import IdempotencyKey, Payment, PaymentEvent
from cobro.domain.ids import new_id
from cobro.domain.payment import CryptoDetails, Customer, Transition
from cobro.privacy.sealing import is_erased


async def record_transition(session: AsyncSession, t: Transition) -> tuple[str, str] | None:
    """Append the event and update the payment in one transaction; the payment's method and PSP
    after it (for the worker's metrics), or None if it was already recorded.

    The event carries its money as columns: the totals the transition states, and what it added
    to them, measured against the payment row before this update (the workflow is the only
    writer of those totals, one transition at a time, so the row holds the previous ones)."""
    inserted = await session.execute(
        pg_insert(PaymentEvent)
        .values(
            id=new_id("evt"),
            payment_id=t.payment_id,
            seq=t.seq,
            kind=t.kind,
            from_status=t.from_status,
            to_status=t.to_status,
            at=t.at,
            source=t.source,
            detail=t.detail,
            amount_received=t.amount_received,
            amount_refunded=t.amount_refunded,
            received=_increase(t.payment_id, Payment.amount_received, t.amount_received),
            refunded=_increase(t.payment_id, Payment.amount_refunded, t.amount_refunded),
            failed_psp=t.failed_psp,
        )
        .on_conflict_do_nothing(constraint="uq_payment_events_seq")
        .returning(PaymentEvent.id)
    )
    if inserted.first() is None:
        return None
    changes: dict[str, Any] = {"status": t.to_status, "updated_at": t.at}
    for name in (
        "psp",
        "psp_reference",
        "psp_customer_reference",
        "instructions",
        "expires_at",
        "amount_received",
        "amount_refunded",
        "failure_reason",
    ):
        if (value := getattr(t, name)) is not None:
            changes[name] = value
    updated = await session.execute(
        update(Payment)
        .where(Payment.id == t.payment_id)
        .values(**changes)
        .returning(Payment.method, Payment.psp)
    )
    method, psp = updated.one()
    return method, psp


def _increase(
    payment_id: str, total: InstrumentedAttribute[int], after: int | None
) -> ColumnElement[int] | None:
    """How much `after` adds to the payment's current `total`; NULL when nothing (or nothing
    stated). A missing payment row makes it NULL too, and the event's foreign key refuses it."""
    if after is None:
        return None
    before = select(total).where(Payment.id == payment_id).scalar_subquery()
    return func.nullif(func.greatest(literal(after, BigInteger) - before, 0), 0)


async def get_payment(session: AsyncSession, merchant_id: str, payment_id: str) -> Payment | None:
    return await session.scalar(
        select(Payment).where(Payment.id == payment_id, Payment.merchant_id == merchant_id)
    )


async def find_by_psp_reference(session: AsyncSession, psp: str, reference: str) -> Payment | None:
    """The payment a PSP object belongs to: its charge, or the PSP customer made for it."""
    return await session.scalar(
        select(Payment).where(
            Payment.psp == psp,
            or_(Payment.psp_reference == reference, Payment.psp_customer_reference == reference),
        )
    )


async def payment_exists(session: AsyncSession, payment_id: str) -> bool:
    return await session.scalar(select(Payment.id).where(Payment.id == payment_id)) is not None


async def customer_details(session: AsyncSession, payment_id: str) -> dict[str, Any] | None:
    """Who pays and what for, as PaymentInput fields; None once erased."""
    payment = await session.get(Payment, payment_id)
    if payment is None or is_erased(payment.customer):
        return None
    return {
        "customer": Customer.model_validate(payment.customer),
        "description": payment.description,
        "metadata": payment.metadata_,
        "crypto": CryptoDetails.model_validate(payment.crypto) if payment.crypto else None,
    }


async def list_payments(
    session: AsyncSession,
    merchant_id: str,
    *,
    status: str | None,
    method: str | None,
    created_gte: datetime | None,
    after: Payment | None,
    limit: int,
) -> list[Payment]:
    """Newest first, keyset-paginated on (created_at, id) (index ix_payments_merchant_*)."""
    query = select(Payment).where(Payment.merchant_id == merchant_id)
    if status is not None:
        query = query.where(Payment.status == status)
    if method is not None:
        query = query.where(Payment.method == method)
    if created_gte is not None:
        query = query.where(Payment.created_at >= created_gte)
    if after is not None:
        query = query.where(tuple_(Payment.created_at, Payment.id) < (after.created_at, after.id))
    query = query.order_by(Payment.created_at.desc(), Payment.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def list_events(session: AsyncSession, payment_id: str) -> list[PaymentEvent]:
    result = await session.scalars(
        select(PaymentEvent).where(PaymentEvent.payment_id == payment_id).order_by(PaymentEvent.seq)
    )
    return list(result)


async def claim_idempotency_key(
    session: AsyncSession,
    merchant_id: str,
    key: str,
    request_hash: str,
    new_payment: dict[str, Any],
) -> tuple[str, str]:
    """Create the payment under this key, or return the one created before.

    Returns (payment_id, request_hash of the first request). Concurrent creates with one key
    serialise on the primary key, so exactly one payment row exists per key.
    """
    existing = await session.scalar(
        select(IdempotencyKey).where(
            IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
        )
    )
    if existing is not None:
        return existing.payment_id, existing.request_hash
    await session.execute(insert(Payment).values(**new_payment))
    claimed = await session.execute(
        pg_insert(IdempotencyKey)
        .values(
            merchant_id=merchant_id,
            key=key,
            request_hash=request_hash,
            payment_id=new_payment["id"],
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyKey.payment_id)
    )
    if claimed.first() is None:
        # Another request claimed the key between our read and insert: drop our row, use theirs.
        await session.rollback()
        winner = await session.scalar(
            select(IdempotencyKey).where(
                IdempotencyKey.merchant_id == merchant_id, IdempotencyKey.key == key
            )
        )
        assert winner is not None
        return winner.payment_id, winner.request_hash
    return new_payment["id"], request_hash


async def psp_failovers(session: AsyncSession, since: datetime) -> list[dict[str, Any]]:
    """Per PSP, the failovers away from it since `since`: how many, first and last seen
    (index ix_payment_events_kind_status_at)."""
    rows = await session.execute(
        select(
            PaymentEvent.failed_psp.label("psp"),
            func.count().label("failovers"),
            func.min(PaymentEvent.at).label("first_at"),
            func.max(PaymentEvent.at).label("last_at"),
        )
        .where(
            PaymentEvent.kind == "failover",
            PaymentEvent.at >= since,
            PaymentEvent.failed_psp.is_not(None),
        )
        .group_by(PaymentEvent.failed_psp)
        .order_by(func.max(PaymentEvent.at).desc())
    )
    return [dict(r._mapping) for r in rows]


async def processing_backlog(session: AsyncSession) -> tuple[int, datetime | None]:
    """The API's metrics: payments in `processing`, and the last change of the one that has
    waited longest (ix_payments_processing_updated: the status is a literal, so that the
    partial index's predicate matches in any plan)."""
    row = await session.execute(
        select(func.count(), func.min(Payment.updated_at)).where(
            Payment.status == literal_column("'processing'")
        )
    )
    count, oldest = row.one()
    return count, oldest
