"""All SQL about refunds."""

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import Refund
from cobro.domain.payment import RefundRecord


async def upsert(session: AsyncSession, r: RefundRecord) -> None:
    """Create or move a refund forward; a final status (succeeded/failed) is never overwritten."""
    values: dict[str, Any] = {
        "status": r.status,
        "psp_reference": r.psp_reference,
        "failure_reason": r.failure_reason,
        "updated_at": r.at,
    }
    await session.execute(
        pg_insert(Refund)
        .values(
            id=r.refund_id,
            payment_id=r.payment_id,
            merchant_id=r.merchant_id,
            amount=r.amount,
            reason=r.reason,
            origin=r.origin,
            created_at=r.at,
            **values,
        )
        .on_conflict_do_update(
            index_elements=[Refund.id], set_=values, where=Refund.status == "pending"
        )
    )


async def find_by_key(session: AsyncSession, merchant_id: str, key: str) -> Refund | None:
    return await session.scalar(
        select(Refund).where(Refund.merchant_id == merchant_id, Refund.idempotency_key == key)
    )


async def claim(
    session: AsyncSession,
    merchant_id: str,
    payment_id: str,
    key: str,
    request_hash: str,
    refund_id: str,
    amount: int,
    reason: str | None,
) -> Refund:
    """The refund created under this Idempotency-Key, creating it (pending) if the key is new."""
    await session.execute(
        pg_insert(Refund)
        .values(
            id=refund_id,
            payment_id=payment_id,
            merchant_id=merchant_id,
            amount=amount,
            status="pending",
            reason=reason,
            origin="merchant",
            idempotency_key=key,
            request_hash=request_hash,
        )
        .on_conflict_do_nothing(constraint="uq_refunds_idempotency_key")
    )
    refund = await session.scalar(
        select(Refund).where(Refund.merchant_id == merchant_id, Refund.idempotency_key == key)
    )
    assert refund is not None
    return refund


async def forget(session: AsyncSession, refund_id: str) -> None:
    """Drop a refund the workflow refused: nothing is stored for a rejected request (as Stripe
    does), so the merchant can fix it and retry with the same key."""
    await session.execute(delete(Refund).where(Refund.id == refund_id, Refund.status == "pending"))


async def list_for_payment(session: AsyncSession, payment_id: str) -> list[Refund]:
    rows = await session.scalars(
        select(Refund).where(Refund.payment_id == payment_id).order_by(Refund.created_at)
    )
    return list(rows)


async def pending_total(session: AsyncSession, payment_id: str) -> int:
    rows = await session.scalars(
        select(Refund.amount).where(Refund.payment_id == payment_id, Refund.status == "pending")
    )
    return sum(rows)
