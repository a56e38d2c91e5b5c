"""Ops actions as Temporal updates: each needs a reason, is recorded with source `ops`, and
is refused before it enters history when it does not apply."""

import asyncio

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cobro import search_attributes as sa
from cobro.domain.methods import PaymentMethod
from cobro.domain.ops_requests import (
    OpsMarkPaid,
    OpsRequest,
    OpsResolveLatePayment,
    OpsRetryCreation,
)
from cobro.domain.payment import CancelRequest, PspEvent, Timings
from cobro.domain.status import EventSource, PaymentStatus
from tests.workflows.conftest import event_log, start_payment
from workflows.payment import PaymentWorkflow

OPERATOR = {"operator": "lucia@ops", "reason": "customer sent the SPEI receipt"}


async def test_mark_paid_with_evidence(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0], PaymentMethod.SPEI)
    await handle.execute_update(PaymentWorkflow.create)
    status = await handle.execute_update(
        PaymentWorkflow.ops_mark_paid, OpsMarkPaid(**OPERATOR, evidence="clave 2026112640014")
    )
    assert status == PaymentStatus.SUCCEEDED
    kind, to, source, detail = (await event_log(sessions, payment.payment_id))[-1]
    assert (kind, to, source) == ("transition", "succeeded", "ops")
    assert "lucia@ops" in detail and "clave 2026112640014" in detail

    with pytest.raises(WorkflowUpdateFailedError) as again:
        await handle.execute_update(
            PaymentWorkflow.ops_mark_paid, OpsMarkPaid(**OPERATOR, evidence="twice")
        )
    assert "succeeded" in str(again.value.cause)


async def test_force_expire_voids_the_charge(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0])
    outcome = await handle.execute_update(PaymentWorkflow.create)
    status = await handle.execute_update(
        PaymentWorkflow.ops_force_expire, OpsRequest(operator="lucia@ops", reason="fraud flag")
    )
    assert status == PaymentStatus.EXPIRED
    charges = (await sim.get("/_sim/charges")).json()["data"]
    assert [c["status"] for c in charges if c["id"] == outcome.psp_reference] == ["canceled"]
    assert (await event_log(sessions, payment.payment_id))[-1][1:3] == ("expired", "ops")


async def test_held_late_money_is_flagged_then_resolved_by_ops(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0], policy="hold")
    outcome = await handle.execute_update(PaymentWorkflow.create)
    await handle.execute_update(
        PaymentWorkflow.ops_force_expire, OpsRequest(operator="lucia@ops", reason="store closed")
    )
    with pytest.raises(WorkflowUpdateFailedError) as nothing_held:
        await handle.execute_update(
            PaymentWorkflow.ops_resolve_late_payment,
            OpsResolveLatePayment(**OPERATOR, action="keep"),
        )
    assert "No late money" in str(nothing_held.value.cause)

    late = PspEvent(
        psp="stripe",
        event_id="evt_late",
        kind="paid",
        psp_reference=outcome.psp_reference or "",
        psp_status="succeeded",
        amount_received=25_000,
        occurred_at=await worker_env.get_current_time(),
    )
    await handle.signal(PaymentWorkflow.psp_event, late)
    for _ in range(200):
        described = await handle.describe()
        flags = described.typed_search_attributes.get(sa.PAYMENT_FLAGS)
        if flags:
            break
        await asyncio.sleep(0.05)
    assert flags == ["late_payment_held"]

    # OXXO at Stripe cannot be refunded: ops must return it outside cobro, then keep it.
    with pytest.raises(WorkflowUpdateFailedError) as refused:
        await handle.execute_update(
            PaymentWorkflow.ops_resolve_late_payment,
            OpsResolveLatePayment(**OPERATOR, action="refund"),
        )
    assert "cannot refund" in str(refused.value.cause)
    resolved = await handle.execute_update(
        PaymentWorkflow.ops_resolve_late_payment, OpsResolveLatePayment(**OPERATOR, action="keep")
    )
    assert resolved == 25_000
    described = await handle.describe()
    assert described.typed_search_attributes.get(sa.PAYMENT_FLAGS) == []
    kinds = [(k, s) for k, _, s, _ in await event_log(sessions, payment.payment_id)]
    assert kinds[-2:] == [("late_payment", "psp_webhook"), ("late_payment", "ops")]


# Stripe is down: after 2 s of failures the payment waits an hour for ops instead of failing.
STUCK = Timings(grace=3600, failover_after=2, create_retry_window=3600)


async def _flags(handle: WorkflowHandle[PaymentWorkflow, PaymentStatus]) -> list[str]:
    return list((await handle.describe()).typed_search_attributes.get(sa.PAYMENT_FLAGS) or [])


async def _wait_for_flag(
    handle: WorkflowHandle[PaymentWorkflow, PaymentStatus], flag: str, timeout_s: float = 20
) -> None:
    for _ in range(int(timeout_s * 10)):
        if flag in await _flags(handle):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"PaymentFlags never got {flag!r}: {await _flags(handle)}")


async def test_ops_retry_creation_after_every_psp_failed(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=STUCK)
    with pytest.raises(WorkflowUpdateFailedError) as too_early:
        await handle.execute_update(
            PaymentWorkflow.ops_retry_creation, OpsRetryCreation(**OPERATOR)
        )
    assert "only while the payment waits for ops" in str(too_early.value.cause)
    await _wait_for_flag(handle, "creation_failed")

    with pytest.raises(WorkflowUpdateFailedError) as off_route:
        await handle.execute_update(
            PaymentWorkflow.ops_retry_creation, OpsRetryCreation(**OPERATOR, psp="conekta")
        )
    assert "not on this merchant's route" in str(off_route.value.cause)

    await sim.put("/_sim/chaos", json={})  # Stripe is back
    answer = await handle.execute_update(
        PaymentWorkflow.ops_retry_creation, OpsRetryCreation(**OPERATOR, psp="stripe")
    )
    assert answer.startswith("awaiting_payment: pi_")
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.status == PaymentStatus.AWAITING_PAYMENT
    assert "creation_failed" not in await _flags(handle)
    log = await event_log(sessions, payment.payment_id)
    assert ("failover", "pending", "ops") in [entry[:3] for entry in log]
    assert log[-1][:3] == ("transition", "awaiting_payment", "api")
    await handle.terminate("test done")


async def test_a_payment_waiting_for_an_ops_retry_can_be_canceled(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=STUCK)
    await _wait_for_flag(handle, "creation_failed")
    status = await handle.execute_update(
        PaymentWorkflow.cancel, CancelRequest(source=EventSource.API, reason="order dropped")
    )
    assert status == PaymentStatus.CANCELED
    assert await handle.result() == PaymentStatus.CANCELED
    assert (await event_log(sessions, payment.payment_id))[-1][:3] == (
        "transition",
        "canceled",
        "api",
    )


async def test_without_an_ops_retry_the_payment_fails_when_the_window_ends(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=STUCK)
    assert await handle.result() == PaymentStatus.FAILED  # the hour passes in virtual time
    log = await event_log(sessions, payment.payment_id)
    assert "ops can retry until" in log[-2][3]
    assert log[-1][:3] == ("transition", "failed", "api")
