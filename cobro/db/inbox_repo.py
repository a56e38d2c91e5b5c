"""The PSP webhook inbox: raw events stored before anything acts on them.

A row's `event` is what its payment's workflow may receive. It is written once the event is
verified and final (at store time for signed PSPs; after the PSP's own confirmation for STP),
and only rows with an event are ever forwarded.
"""

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import WebhookInbox


async def store(
    session: AsyncSession,
    psp: str,
    event_id: str,
    event_type: str,
    psp_reference: str,
    raw_body: bytes,
    payment_id: str | None,
    event: dict[str, Any] | None,
    confirm_after: datetime | None = None,
) -> WebhookInbox:
    """Insert the event unless (psp, event_id) is already there; returns the stored row.
    `event` None with `confirm_after`: the PSP must confirm it before it can be forwarded."""
    inserted: WebhookInbox | None = await session.scalar(
        pg_insert(WebhookInbox)
        .values(
            psp=psp,
            event_id=event_id,
            event_type=event_type,
            psp_reference=psp_reference,
            raw_body=raw_body,
            payment_id=payment_id,
            event=event,
            confirm_after=confirm_after,
        )
        .on_conflict_do_nothing(constraint="uq_psp_webhook_inbox_event")
        .returning(WebhookInbox)
    )
    if inserted is not None:  # new: one round trip
        return inserted
    row = await get(session, psp, event_id)  # a duplicate: the stored one
    assert row is not None
    return row


async def get(session: AsyncSession, psp: str, event_id: str) -> WebhookInbox | None:
    row: WebhookInbox | None = await session.scalar(
        select(WebhookInbox).where(WebhookInbox.psp == psp, WebhookInbox.event_id == event_id)
    )
    return row


async def claim(session: AsyncSession, row_id: int, payment_id: str) -> bool:
    """Give an unmatched event to a payment (ops); False when another payment has it."""
    result = await session.execute(
        update(WebhookInbox)
        .where(
            WebhookInbox.id == row_id,
            (WebhookInbox.payment_id.is_(None)) | (WebhookInbox.payment_id == payment_id),
        )
        .values(payment_id=payment_id, forwarded_at=func.now())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def mark_forwarded(session: AsyncSession, row_id: int) -> None:
    await session.execute(
        update(WebhookInbox).where(WebhookInbox.id == row_id).values(forwarded_at=func.now())
    )


async def set_confirmed(session: AsyncSession, row_id: int, event: dict[str, Any]) -> None:
    """The PSP confirmed the event: this is the form it is forwarded in, from now on."""
    await session.execute(
        update(WebhookInbox)
        .where(WebhookInbox.id == row_id)
        .values(event=event, confirm_after=None, confirm_attempts=WebhookInbox.confirm_attempts + 1)
    )


async def confirm_later(session: AsyncSession, row_id: int, after: datetime) -> None:
    await session.execute(
        update(WebhookInbox)
        .where(WebhookInbox.id == row_id)
        .values(confirm_after=after, confirm_attempts=WebhookInbox.confirm_attempts + 1)
    )


async def reject(session: AsyncSession, row_id: int, reason: str) -> None:
    """Never to be forwarded (the PSP denies it); kept, with the reason, for ops."""
    await session.execute(
        update(WebhookInbox)
        .where(WebhookInbox.id == row_id)
        .values(rejected_reason=reason, confirm_after=None)
    )


async def unmatched(session: AsyncSession, limit: int = 100) -> list[WebhookInbox]:
    """PSP events no payment claimed, newest first (index ix_psp_webhook_inbox_unmatched)."""
    rows = await session.scalars(
        select(WebhookInbox)
        .where(WebhookInbox.payment_id.is_(None))
        .order_by(WebhookInbox.received_at.desc())
        .limit(limit)
    )
    return list(rows)


# pg_try_advisory_xact_lock key of the forwarder's sweep ("cobr" in ASCII).
SWEEP_LOCK = 0x636F6272
# A sweeper that stops answering (SIGSTOP, a hung process) gives the turn up after this long.
SWEEP_TURN_MAX = "30s"


async def take_sweep_turn(session: AsyncSession) -> bool:
    """Whether this process sweeps now. With N API processes, one sweeps at a time: the lock
    lasts as long as `session`'s transaction, and PostgreSQL releases it when that transaction
    ends, when the process dies (its connection closes), or after SWEEP_TURN_MAX idle."""
    await session.execute(
        text(f"SET LOCAL idle_in_transaction_session_timeout = '{SWEEP_TURN_MAX}'")
    )
    return bool(await session.scalar(select(func.pg_try_advisory_xact_lock(SWEEP_LOCK))))


async def unforwarded(
    session: AsyncSession, older_than: datetime, limit: int = 100
) -> list[WebhookInbox]:
    """What the forwarder's sweep has to do (index ix_psp_webhook_inbox_pending): verified
    events older than `older_than` not given to their workflow yet, and events due for a
    confirmation by their PSP."""
    rows = await session.scalars(
        select(WebhookInbox)
        .where(
            WebhookInbox.payment_id.is_not(None),
            WebhookInbox.forwarded_at.is_(None),
            WebhookInbox.rejected_reason.is_(None),
            or_(
                and_(WebhookInbox.event.is_not(None), WebhookInbox.received_at < older_than),
                and_(WebhookInbox.event.is_(None), WebhookInbox.confirm_after <= func.now()),
            ),
        )
        .order_by(WebhookInbox.id)
        .limit(limit)
    )
    return list(rows)


async def backlog(session: AsyncSession) -> dict[bool, tuple[int, datetime | None]]:
    """The API's metrics: events matched to a payment and not forwarded (nor rejected), by
    whether they are forwardable (verified, final) or still wait for their PSP's confirmation:
    {forwardable: (count, oldest received_at)}. Reads ix_psp_webhook_inbox_pending."""
    forwardable = WebhookInbox.event.is_not(None)
    rows = await session.execute(
        select(forwardable, func.count(), func.min(WebhookInbox.received_at))
        .where(
            WebhookInbox.payment_id.is_not(None),
            WebhookInbox.forwarded_at.is_(None),
            WebhookInbox.rejected_reason.is_(None),
        )
        .group_by(forwardable)
    )
    return {bool(ready): (count, oldest) for ready, count, oldest in rows.all()}
