"""Refunds the PSP leaves pending, on Temporal's time-skipping server with the real worker, the
real simulator and real PostgreSQL: the amount stays reserved until the PSP says how the refund
ended (a webhook signal, or a status check on a timer), a failed refund frees its amount, and
each refund's outcome is its own merchant event."""

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError, WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from cobro import search_attributes as sa
from cobro.db import payments_repo
from cobro.db.models import MerchantEvent, Payment, Refund
from cobro.domain.methods import PaymentMethod
from cobro.domain.ops_requests import OpsRequest, OpsResolveLatePayment
from cobro.domain.payment import PspEvent, PspRefundResult, RefundRequest
from cobro.domain.status import EventSource, PaymentStatus
from tests.e2e.helpers import wait_until
from tests.workflows.conftest import start_payment
from workflows.payment import PaymentWorkflow

OPERATOR = {"operator": "lucia@ops", "reason": "customer asked for the money back"}


async def _paid_spei(
    env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant_id: str,
    sim: httpx.AsyncClient,
) -> tuple[WorkflowHandle[PaymentWorkflow, PaymentStatus], str, str]:
    """A 25,000 centavos SPEI payment at Stripe, paid: (handle, payment id, PaymentIntent)."""
    handle, payment = await start_payment(env, sessions, merchant_id, PaymentMethod.SPEI)
    outcome = await handle.execute_update(PaymentWorkflow.create)
    intent = outcome.psp_reference or ""
    await sim.post("/_sim/pay", json={"psp_reference": intent})
    paid = PspEvent(
        psp="stripe",
        event_id=f"evt_paid_{intent}",
        kind="paid",
        psp_reference=intent,
        psp_status="succeeded",
        amount_received=25_000,
        occurred_at=await env.get_current_time(),
    )
    await handle.signal(PaymentWorkflow.psp_event, paid)
    for _ in range(200):
        if await handle.query(PaymentWorkflow.current_status) == PaymentStatus.SUCCEEDED:
            break
        await asyncio.sleep(0.05)
    return handle, payment.payment_id, intent


async def _plan(sim: httpx.AsyncClient, reference: str, *outcomes: str) -> None:
    response = await sim.post(
        "/_sim/refunds/plan", json={"psp_reference": reference, "outcomes": list(outcomes)}
    )
    assert response.status_code == 200, response.text


async def _at_stripe(sim: httpx.AsyncClient, refund_id: str) -> dict[str, Any]:
    refunds = (await sim.get("/_sim/refunds")).json()["data"]
    found: dict[str, Any] = next(r for r in refunds if r["cobro_refund_id"] == refund_id)
    return found


async def _move(sim: httpx.AsyncClient, psp_refund_id: str, status: str) -> None:
    response = await sim.post(f"/_sim/refunds/{psp_refund_id}", json={"status": status})
    assert response.status_code == 200, response.text


def _refund_news(intent: str, refund_id: str, psp_refund_id: str, status: str) -> PspEvent:
    """What the webhook receiver signals for Stripe's refund.updated."""
    return PspEvent(
        psp="stripe",
        event_id=f"evt_{psp_refund_id}_{status}",
        kind="refund",
        psp_reference=intent,
        psp_status=f"refund.updated: refund {psp_refund_id} {status}",
        occurred_at=datetime.now(UTC),
        refund=PspRefundResult(
            psp_reference=psp_refund_id,
            status="succeeded" if status == "succeeded" else "failed",
            failure_reason=None if status == "succeeded" else f"stripe refund {status}: declined",
            refund_id=refund_id,
            psp_status=status,
        ),
    )


async def _refund_row(
    sessions: async_sessionmaker[AsyncSession], refund_id: str, status: str
) -> Refund:
    """The refund's row once it has `status` (the workflow works in the background)."""
    row: Refund | None = None
    for _ in range(300):
        async with sessions() as session:
            row = await session.scalar(select(Refund).where(Refund.id == refund_id))
        if row is not None and row.status == status:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"refund {refund_id} is {row.status if row else None}, not {status}")


async def _merchant_events(
    sessions: async_sessionmaker[AsyncSession], payment_id: str
) -> list[tuple[str, str]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(MerchantEvent)
            .where(MerchantEvent.payment_id == payment_id)
            .order_by(MerchantEvent.created_at)
        )
        return [(e.id, e.type) for e in rows]


async def _moves(sessions: async_sessionmaker[AsyncSession], payment_id: str) -> list[Any]:
    async with sessions() as session:
        rows = await payments_repo.list_events(session, payment_id)
    return [(e.to_status, e.source) for e in rows if e.kind == "transition"]


async def test_a_pending_refund_keeps_its_amount_until_a_webhook_says_it_succeeded(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment_id, intent = await _paid_spei(worker_env, sessions, merchant[0], sim)
    await _plan(sim, intent, "pending")
    refund = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_pending1", amount=10_000)
    )
    assert refund.status == "pending" and refund.psp_reference
    assert (await _refund_row(sessions, "re_wf_pending1", "pending")).psp_reference == (
        refund.psp_reference
    )
    # Reserved while pending: only 15,000 centavos are left to refund.
    with pytest.raises(WorkflowUpdateFailedError) as too_much:
        await handle.execute_update(
            PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_greedy", amount=15_001)
        )
    assert "At most 15000" in str(too_much.value.cause)
    assert await handle.query(PaymentWorkflow.current_status) == PaymentStatus.SUCCEEDED

    await _move(sim, refund.psp_reference, "succeeded")
    news = _refund_news(intent, "re_wf_pending1", refund.psp_reference, "succeeded")
    await handle.signal(PaymentWorkflow.psp_event, news)
    await handle.signal(PaymentWorkflow.psp_event, news.model_copy(update={"event_id": "evt_2"}))
    await _refund_row(sessions, "re_wf_pending1", "succeeded")
    assert await handle.query(PaymentWorkflow.current_status) == PaymentStatus.PARTIALLY_REFUNDED
    assert (await _moves(sessions, payment_id))[-1] == ("partially_refunded", "psp_webhook")
    events = await _merchant_events(sessions, payment_id)
    # Once, though Stripe told it twice (refund.updated and charge.refund.updated).
    assert events[-1] == ("evt_re_wf_pending1_refund.succeeded", "refund.succeeded")
    assert [t for _, t in events].count("refund.succeeded") == 1


async def test_a_pending_refund_with_no_webhook_is_checked_on_a_timer(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment_id, intent = await _paid_spei(worker_env, sessions, merchant[0], sim)
    await _plan(sim, intent, "requires_action")  # Stripe waits for the customer's bank details
    refund = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_polled", amount=25_000)
    )
    assert refund.status == "pending" and refund.psp_reference
    await _move(sim, refund.psp_reference, "succeeded")  # its webhook never reaches cobro

    # The refund window is 180 days; the status check an hour later settles it.
    assert await handle.result() == PaymentStatus.REFUNDED
    row = await _refund_row(sessions, "re_wf_polled", "succeeded")
    assert row.psp_reference == refund.psp_reference
    assert (await _moves(sessions, payment_id))[-1] == ("refunded", EventSource.PSP_POLL)


async def test_a_failed_refund_frees_its_amount_and_a_second_one_succeeds(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment_id, intent = await _paid_spei(worker_env, sessions, merchant[0], sim)
    await _plan(sim, intent, "pending")
    first = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_fails", amount=25_000)
    )
    assert first.status == "pending" and first.psp_reference
    with pytest.raises(WorkflowUpdateFailedError) as nothing_left:
        await handle.execute_update(
            PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_early", amount=1)
        )
    assert "At most 0" in str(nothing_left.value.cause)

    await _move(sim, first.psp_reference, "failed")
    failed = _refund_news(intent, "re_wf_fails", first.psp_reference, "failed")
    await handle.signal(PaymentWorkflow.psp_event, failed)
    row = await _refund_row(sessions, "re_wf_fails", "failed")
    assert row.failure_reason == "stripe refund failed: declined"
    assert await handle.query(PaymentWorkflow.current_status) == PaymentStatus.SUCCEEDED
    assert (await sim.get("/_sim/charges")).json()["data"][-1]["amount_refunded"] == 0

    second = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_again", amount=25_000)
    )
    assert second.status == "succeeded"
    assert await handle.query(PaymentWorkflow.current_status) == PaymentStatus.REFUNDED
    assert [t for _, t in await _merchant_events(sessions, payment_id)][-2:] == [
        "refund.failed",
        "refund.succeeded",
    ]


async def test_two_failed_refunds_in_a_row_are_two_merchant_events(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment_id, intent = await _paid_spei(worker_env, sessions, merchant[0], sim)
    await _plan(sim, intent, "rejected", "pending")
    refused = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_refused", amount=5_000)
    )
    assert refused.status == "failed" and "balance" in (refused.failure_reason or "")
    later = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_canceled", amount=5_000)
    )
    assert later.status == "pending" and later.psp_reference
    await _move(sim, later.psp_reference, "canceled")
    await handle.signal(
        PaymentWorkflow.psp_event,
        _refund_news(intent, "re_wf_canceled", later.psp_reference, "canceled"),
    )
    await _refund_row(sessions, "re_wf_canceled", "failed")

    async def two_failures() -> list[tuple[str, str]]:
        # The refund's row is written before its merchant event, by the next local activity.
        events = await _merchant_events(sessions, payment_id)
        failures = [e for e in events if e[1] == "refund.failed"]
        return failures if len(failures) >= 2 else []

    failures = await wait_until(two_failures, "the second refund.failed event")
    assert failures == [
        ("evt_re_wf_refused_refund.failed", "refund.failed"),
        ("evt_re_wf_canceled_refund.failed", "refund.failed"),
    ]
    # Nothing was refunded, so everything can still be.
    last = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_all", amount=25_000)
    )
    assert last.status == "succeeded"


async def test_a_failed_refund_of_late_money_holds_it_for_ops(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0], PaymentMethod.SPEI)
    outcome = await handle.execute_update(PaymentWorkflow.create)
    intent = outcome.psp_reference or ""
    await handle.execute_update(
        PaymentWorkflow.ops_force_expire, OpsRequest(operator="lucia@ops", reason="order void")
    )
    # The transfer arrives after expiry: Stripe keeps it in the customer's cash balance, and
    # the automatic refund of it is refused.
    await _plan(sim, intent, "rejected")
    await sim.post("/_sim/pay", json={"psp_reference": intent})
    async with sessions() as session:
        customer = await session.scalar(
            select(Payment.psp_customer_reference).where(Payment.id == payment.payment_id)
        )
    assert customer is not None
    # What the receiver signals for customer_cash_balance_transaction.created.
    late = PspEvent(
        psp="stripe",
        event_id="evt_late_cash",
        kind="paid",
        psp_reference=customer,
        psp_status="funded",
        amount_received=25_000,
        occurred_at=await worker_env.get_current_time(),
    )
    await handle.signal(PaymentWorkflow.psp_event, late)
    flags: Sequence[str] | None = None
    for _ in range(200):
        described = await handle.describe()
        flags = described.typed_search_attributes.get(sa.PAYMENT_FLAGS)
        if flags:
            break
        await asyncio.sleep(0.05)
    assert flags == ["late_payment_held"]
    async with sessions() as session:
        refunds = list(
            await session.scalars(select(Refund).where(Refund.payment_id == payment.payment_id))
        )
    assert [(r.amount, r.status, r.origin) for r in refunds] == [(25_000, "failed", "late_payment")]

    # Ops try again once Stripe takes it: the money goes back this time.
    resolved = await handle.execute_update(
        PaymentWorkflow.ops_resolve_late_payment, OpsResolveLatePayment(**OPERATOR, action="refund")
    )
    assert resolved == 25_000
    truth = next(c for c in (await sim.get("/_sim/charges")).json()["data"] if c["id"] == intent)
    assert truth["amount_refunded"] == 25_000


async def test_a_refund_stripe_never_answered_stays_pending_and_is_asked_again(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment_id, intent = await _paid_spei(worker_env, sessions, merchant[0], sim)
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    update = await handle.start_update(
        PaymentWorkflow.refund,
        RefundRequest(refund_id="re_wf_unanswered", amount=25_000),
        wait_for_stage=WorkflowUpdateStage.ACCEPTED,
    )
    await worker_env.sleep(timedelta(minutes=11))  # ten minutes of Stripe failing, skipped
    record = await update.result()
    # The outcome is unknown: never taken for a failure, the amount stays reserved.
    assert (record.status, record.psp_reference) == ("pending", None)
    with pytest.raises(WorkflowUpdateFailedError) as nothing_left:
        await handle.execute_update(
            PaymentWorkflow.refund, RefundRequest(refund_id="re_wf_twice", amount=1)
        )
    assert "At most 0" in str(nothing_left.value.cause)

    await sim.put("/_sim/chaos", json={})  # Stripe is back
    await worker_env.sleep(timedelta(hours=2))  # the check asks again, with the same key
    row = await _refund_row(sessions, "re_wf_unanswered", "succeeded")
    assert row.psp_reference is not None and row.psp_reference.startswith("re_")
    assert await handle.query(PaymentWorkflow.current_status) == PaymentStatus.REFUNDED
    truth = next(c for c in (await sim.get("/_sim/charges")).json()["data"] if c["id"] == intent)
    assert truth["amount_refunded"] == 25_000  # refunded once
    assert (await _moves(sessions, payment_id))[-1] == ("refunded", EventSource.PSP_POLL)
