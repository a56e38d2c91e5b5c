"""History version 5 at expiry, on the time-skipping server with the real worker and simulator:
an OXXO voucher (paid in full or not at all) is voided first, with no status check unless the
void is refused; SPEI (which can be partly paid) is still checked first. Polling is set past
the voucher's life, so every PSP call in the history is the expiry's own."""

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Timings
from cobro.domain.status import EventSource, PaymentStatus
from tests.e2e.helpers import charge
from tests.workflows.conftest import GRACE_S, event_log, start_payment
from workflows.payment import HISTORY_VERSION, PaymentWorkflow

MONTH_S = 30 * 86_400
# No status check before the deadline: the voucher lives 2 days.
QUIET = Timings(grace=GRACE_S, poll_after=MONTH_S, poll_max_interval=MONTH_S)


async def _psp_calls(
    env: WorkflowEnvironment, handle: WorkflowHandle[PaymentWorkflow, PaymentStatus]
) -> list[str]:
    """The activities the payment's first run scheduled on Stripe's queue (creation is a local
    activity, not here; a succeeded payment continues as new into its refund window)."""
    first_run = env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    history = await first_run.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert {a.task_queue.name for a in scheduled} <= {"psp-stripe"}
    return [a.activity_type.name for a in scheduled]


async def test_an_unpaid_oxxo_voucher_expires_with_one_psp_call_the_void(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    assert HISTORY_VERSION == 5
    handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=QUIET)
    outcome = await handle.execute_update(PaymentWorkflow.create)
    assert outcome.psp_reference
    assert await handle.result() == PaymentStatus.EXPIRED
    assert await _psp_calls(worker_env, handle) == ["cancel_charge"]
    kind, to_status, source, detail = (await event_log(sessions, payment.payment_id))[-1]
    assert (kind, to_status, source) == ("transition", "expired", EventSource.TIMER)
    assert detail.endswith(f"+ {GRACE_S} s grace; charge voided at stripe")
    assert (await charge(sim, outcome.psp_reference))["status"] == "canceled"


async def test_a_paid_oxxo_voucher_whose_webhook_was_lost_succeeds(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=QUIET)
    outcome = await handle.execute_update(PaymentWorkflow.create)
    # Paid at the store; the webhook never reaches this workflow.
    await sim.post("/_sim/pay", json={"psp_reference": outcome.psp_reference})
    assert await handle.result() == PaymentStatus.SUCCEEDED
    # Stripe refused to cancel the succeeded intent; the check after it found the payment.
    assert await _psp_calls(worker_env, handle) == ["cancel_charge", "get_charge"]
    moves = [(k, to, src) for k, to, src, _ in await event_log(sessions, payment.payment_id)]
    assert moves[-1] == ("transition", "succeeded", EventSource.PSP_POLL)
    assert "expired" not in [to for _, to, _ in moves]
    assert (await charge(sim, outcome.psp_reference or ""))["status"] == "succeeded"


async def test_spei_is_still_checked_first_so_a_lost_partial_deposit_is_not_kept(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    handle, payment = await start_payment(
        worker_env, sessions, merchant[0], PaymentMethod.SPEI, policy="hold", timings=QUIET
    )
    outcome = await handle.execute_update(PaymentWorkflow.create)
    # 100 of 250 pesos transferred; its webhook never reaches this workflow.
    await sim.post("/_sim/pay", json={"psp_reference": outcome.psp_reference, "amount": 10_000})
    assert await handle.result() == PaymentStatus.EXPIRED
    assert await _psp_calls(worker_env, handle) == ["get_charge", "cancel_charge"]
    moves = [(k, to, src) for k, to, src, _ in await event_log(sessions, payment.payment_id)]
    assert moves[-3:] == [
        ("partial_payment", "awaiting_payment", EventSource.PSP_POLL),
        ("transition", "expired", EventSource.TIMER),
        ("late_payment", "expired", EventSource.TIMER),  # held for ops: the merchant's rule
    ]
    late = (await event_log(sessions, payment.payment_id))[-1][3]
    assert late.startswith("10000 centavos arrived while expired; held for ops")
