"""History version 3: a succeeded payment, once quiet, continues as new into its refund window
carrying its state alone (no customer data, no inbox), so a 180-day workflow keeps a short
history; refunds, their limits and duplicate PSP events behave as in one long run."""

import json
import secrets
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.testing import WorkflowEnvironment

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import RefundRequest, Timings
from cobro.domain.status import PaymentStatus
from tests.e2e.helpers import wait_until
from tests.workflows.conftest import GRACE_S, start_payment, until_status
from tests.workflows.test_payment_workflow import _events, _paid
from workflows.payment import PaymentWorkflow

QUIET_S = 600


async def test_a_quiet_succeeded_payment_continues_with_its_state_alone(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    tag = secrets.token_hex(4)  # refund ids are idempotency keys at the (shared) simulator
    timings = Timings(grace=GRACE_S, quiet_before_continuing=QUIET_S)
    handle, payment = await start_payment(
        worker_env, sessions, merchant[0], PaymentMethod.SPEI, timings=timings
    )
    outcome = await handle.execute_update(PaymentWorkflow.create)
    reference = outcome.psp_reference or ""
    await sim.post("/_sim/pay", json={"psp_reference": reference})
    await handle.signal(PaymentWorkflow.psp_event, _paid(reference))
    await until_status(handle, PaymentStatus.SUCCEEDED)
    first = await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id=f"re_before_{tag}", amount=5_000)
    )
    assert first.status == "succeeded"
    first_run = worker_env.client.get_workflow_handle(handle.id, run_id=handle.result_run_id)
    assert (await first_run.describe()).status is not None

    await worker_env.sleep(timedelta(seconds=QUIET_S + 60))
    latest = worker_env.client.get_workflow_handle(handle.id)

    async def continued() -> bool:
        return (await latest.describe()).run_id != handle.result_run_id

    await wait_until(continued, "the payment to continue as new")
    first_history = await first_run.fetch_history()
    assert first_history.events[-1].event_type == (
        EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW
    )

    history = await latest.fetch_history()
    assert len(history.events) < 12  # a short history for the months to come
    started = history.events[0].workflow_execution_started_event_attributes
    [given] = await worker_env.client.data_converter.decode(list(started.input.payloads))
    assert isinstance(given, dict)
    assert given["customer"] is None and given["private"] is None
    assert "Ana" not in json.dumps(given)
    resume = given["resume"]
    assert (resume["status"], resume["charge_received"], resume["amount_refunded"]) == (
        PaymentStatus.PARTIALLY_REFUNDED,
        25_000,
        5_000,
    )
    assert [r["refund_id"] for r in resume["refunds"]] == [f"re_before_{tag}"]

    # The same limits in the new run: 20,000 can still be refunded, not a centavo more.
    with pytest.raises(WorkflowUpdateFailedError) as too_much:
        await latest.execute_update(
            PaymentWorkflow.refund, RefundRequest(refund_id=f"re_greedy_{tag}", amount=20_001)
        )
    assert "20000" in str(too_much.value.cause)
    # A late duplicate of the payment's PSP event counts nothing twice.
    await latest.signal(PaymentWorkflow.psp_event, _paid(reference))
    rest = await latest.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id=f"re_rest_{tag}", amount=20_000)
    )
    assert rest.status == "succeeded", rest.failure_reason
    again = await latest.execute_update(  # asked again in the new run: the same refund
        PaymentWorkflow.refund, RefundRequest(refund_id=f"re_before_{tag}", amount=5_000)
    )
    assert (again.refund_id, again.status) == (f"re_before_{tag}", "succeeded")
    assert await latest.query(PaymentWorkflow.current_status) == PaymentStatus.REFUNDED
    assert await handle.result() == PaymentStatus.REFUNDED  # after the refund window
    moves = [to for _, to, _ in await _events(sessions, payment.payment_id)]
    assert moves.count("succeeded") == 1
    assert moves[-2:] == ["partially_refunded", "refunded"]


async def test_a_fully_refunded_payment_still_waits_out_its_window_after_continuing(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
    sim: httpx.AsyncClient,
) -> None:
    """Late money and a refund the PSP fails later still need a running workflow."""
    tag = secrets.token_hex(4)
    timings = Timings(grace=GRACE_S, quiet_before_continuing=QUIET_S)
    handle, _ = await start_payment(
        worker_env, sessions, merchant[0], PaymentMethod.SPEI, timings=timings
    )
    outcome = await handle.execute_update(PaymentWorkflow.create)
    reference = outcome.psp_reference or ""
    await sim.post("/_sim/pay", json={"psp_reference": reference})
    await handle.signal(PaymentWorkflow.psp_event, _paid(reference))
    await until_status(handle, PaymentStatus.SUCCEEDED)
    await handle.execute_update(
        PaymentWorkflow.refund, RefundRequest(refund_id=f"re_all_{tag}", amount=25_000)
    )
    await worker_env.sleep(timedelta(seconds=QUIET_S + 60))
    latest = worker_env.client.get_workflow_handle(handle.id)

    async def continued() -> bool:
        return (await latest.describe()).run_id != handle.result_run_id

    await wait_until(continued, "the payment to continue as new")
    await worker_env.sleep(timedelta(days=30))  # well inside its 180-day window
    described = await latest.describe()
    assert described.status == WorkflowExecutionStatus.RUNNING
    assert await latest.query(PaymentWorkflow.current_status) == PaymentStatus.REFUNDED
