"""PaymentWorkflow on Temporal's time-skipping test server: days of voucher life in seconds.

Real activities run in-process against the real simulator and real PostgreSQL. The test sends
the PSP signal the webhook receiver would send (the receiver has its own end-to-end tests).
"""

import asyncio
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cobro.db import payments_repo
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import CancelRequest, PspEvent, RefundRequest
from cobro.domain.status import EventSource, PaymentStatus
from tests.workflows.conftest import GRACE_S, start_payment, until_status
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
    handle, payment = await start_payment(worker_env, sessions, merchant[0])
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
    handle, payment = await start_payment(worker_env, sessions, merchant[0])
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
    handle, _ = await start_payment(worker_env, sessions, merchant[0])
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
    handle, payment = await start_payment(worker_env, sessions, merchant[0])
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


async def test_a_psp_rejection_fails_the_payment_with_its_reason(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0], amount=999)
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.status == PaymentStatus.FAILED
    assert outcome.failure_reason and "10.00" in outcome.failure_reason  # Stripe's message
    assert await handle.result() == PaymentStatus.FAILED
    async with sessions() as session:
        row = await payments_repo.get_payment(session, merchant[0], payment.payment_id)
    assert row is not None and row.status == "failed" and row.failure_reason


async def test_a_lost_webhook_is_found_by_polling_the_psp(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    # Paid at the PSP, but its webhook never reaches this workflow.
    await sim.post("/_sim/pay", json={"psp_reference": outcome.psp_reference})
    assert await handle.result() == PaymentStatus.SUCCEEDED
    last = (await _events(sessions, payment.payment_id))[-1]
    assert last == ("awaiting_payment", "succeeded", EventSource.PSP_POLL)


async def test_a_partial_refund_then_the_rest(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0], PaymentMethod.SPEI)
    outcome = await handle.execute_update(PaymentWorkflow.create)
    await sim.post("/_sim/pay", json={"psp_reference": outcome.psp_reference})
    await handle.signal(PaymentWorkflow.psp_event, _paid(outcome.psp_reference or ""))
    await until_status(handle, PaymentStatus.SUCCEEDED)

    first = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_first", amount=10_000)
    )
    assert first.status == "succeeded"
    assert await handle.query(PaymentWorkflow.current_status) == PaymentStatus.PARTIALLY_REFUNDED
    with pytest.raises(WorkflowUpdateFailedError) as too_much:
        await handle.execute_update(
            PaymentWorkflow.refund, RefundRequest(refund_id="re_greedy", amount=15_001)
        )
    assert "15000" in str(too_much.value.cause)
    await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_rest", amount=15_000)
    )
    assert await handle.result() == PaymentStatus.REFUNDED  # after the refund window
    moves = [to for _, to, _ in await _events(sessions, payment.payment_id)]
    assert moves[-2:] == ["partially_refunded", "refunded"]


async def test_canceling_a_paid_payment_is_rejected_before_it_enters_history(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, _ = await start_payment(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    await handle.signal(PaymentWorkflow.psp_event, _paid(outcome.psp_reference or ""))
    await handle.query(PaymentWorkflow.current_status)
    for _ in range(100):
        if await handle.query(PaymentWorkflow.current_status) == PaymentStatus.SUCCEEDED:
            break
        await asyncio.sleep(0.05)
    with pytest.raises(WorkflowUpdateFailedError) as rejected:
        await handle.execute_update(PaymentWorkflow.cancel, CancelRequest())
    assert "succeeded" in str(rejected.value.cause)
    history = await handle.fetch_history()
    assert not any(
        e.HasField("workflow_execution_update_accepted_event_attributes")
        and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == "cancel"
        for e in history.events
    )


async def test_a_psp_that_recovers_within_the_failover_window_keeps_the_payment(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    handle, payment = await start_payment(worker_env, sessions, merchant[0])

    async def failed_attempts() -> int:  # each is followed by a back-off timer
        history = await handle.fetch_history()
        return sum(e.HasField("timer_started_event_attributes") for e in history.events)

    for _ in range(100):
        if await failed_attempts() >= 2:
            break
        await asyncio.sleep(0.1)
    assert await failed_attempts() >= 2
    await sim.put("/_sim/chaos", json={})  # back up, within the 60 s window

    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.status == PaymentStatus.AWAITING_PAYMENT
    assert outcome.psp_reference and outcome.psp_reference.startswith("pi_")
    assert (await _events(sessions, payment.payment_id))[-1][1] == "awaiting_payment"
    await handle.terminate("test done")
