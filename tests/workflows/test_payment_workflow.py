"""PaymentWorkflow on Temporal's time-skipping test server: days of voucher life in seconds.

Real activities run in-process against the real simulator and real PostgreSQL. The test sends
the PSP signal the webhook receiver would send (the receiver has its own end-to-end tests).
"""

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.testing import WorkflowEnvironment

from cobro.db import payments_repo
from cobro.domain.payment import PspEvent
from cobro.domain.status import EventSource, PaymentStatus
from tests.workflows.conftest import GRACE_S
from tests.workflows.conftest import start_payment as _start
from workflows.payment import PaymentWorkflow


def _paid(reference: str, event_id: str = "evt_paid_1") -> PspEvent:
    return PspEvent(
        psp="stripe",
        event_id=event_id,
        kind="paid",
        psp_reference=reference,
        psp_status="succeeded",
        amount_received=25_000,
        occurred_at=datetime.now(UTC),
    )


async def _events(
    sessions: async_sessionmaker[AsyncSession],
    payment_id: str,
) -> list[tuple[str | None, str, str]]:
    async with sessions() as session:
        rows = await payments_repo.list_events(session, payment_id)
    return [(e.from_status, e.to_status, e.source) for e in rows]


async def test_paid_before_expiry_succeeds(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, payment = await _start(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.status == PaymentStatus.AWAITING_PAYMENT and outcome.psp_reference

    await worker_env.sleep(timedelta(days=1))  # paid the next day, well before expiry
    await handle.signal(PaymentWorkflow.psp_event, _paid(outcome.psp_reference))
    assert await handle.result() == PaymentStatus.SUCCEEDED
    assert await _events(sessions, payment.payment_id) == [
        (None, "pending", EventSource.API),
        ("pending", "awaiting_payment", EventSource.API),
        ("awaiting_payment", "succeeded", EventSource.PSP_WEBHOOK),
    ]


async def test_unpaid_voucher_expires_after_its_days_plus_grace(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, payment = await _start(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.expires_at is not None
    local_expiry = outcome.expires_at.astimezone(ZoneInfo("America/Mexico_City"))
    assert local_expiry.time() == time(23, 59, 59)

    assert await handle.result() == PaymentStatus.EXPIRED  # skips ~2 days of virtual time
    assert (await _events(sessions, payment.payment_id))[-1] == (
        "awaiting_payment",
        "expired",
        EventSource.TIMER,
    )
    async with sessions() as session:
        rows = await payments_repo.list_events(session, payment.payment_id)
    expired_at = rows[-1].at
    assert expired_at >= outcome.expires_at + timedelta(seconds=GRACE_S)
    assert expired_at < outcome.expires_at + timedelta(seconds=GRACE_S, minutes=1)


async def test_a_payment_confirmed_during_the_grace_window_succeeds(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, _ = await _start(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.expires_at is not None and outcome.psp_reference
    now = await worker_env.get_current_time()
    await worker_env.sleep(outcome.expires_at - now + timedelta(seconds=GRACE_S / 2))
    await handle.signal(PaymentWorkflow.psp_event, _paid(outcome.psp_reference))
    assert await handle.result() == PaymentStatus.SUCCEEDED


async def test_duplicate_and_late_signals_change_nothing(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, payment = await _start(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.psp_reference
    paid = _paid(outcome.psp_reference)
    for _ in range(3):  # Stripe retried the same event
        await handle.signal(PaymentWorkflow.psp_event, paid)
    canceled = paid.model_copy(update={"event_id": "evt_late_cancel", "kind": "canceled"})
    await handle.signal(PaymentWorkflow.psp_event, canceled)  # cannot move a final status
    assert await handle.result() == PaymentStatus.SUCCEEDED

    async with sessions() as session:
        rows = await payments_repo.list_events(session, payment.payment_id)
    # The duplicates left no trace; the late cancel was recorded with its reason, not applied.
    assert [(e.kind, e.to_status) for e in rows] == [
        ("transition", "pending"),
        ("transition", "awaiting_payment"),
        ("transition", "succeeded"),
        ("ignored", "succeeded"),
    ]
    assert "evt_late_cancel" in (rows[-1].detail or "")
    assert "ignored" in (rows[-1].detail or "")
