"""History version 4 on the time-skipping server: an unpaid voucher with an expiry spread still
expires (its void, and any status check, on Stripe's own task queue, `psp-stripe`, which a
worker of its own serves at the rate COBRO_PSP_RATE_LIMITS sets). When the spread puts the
check is measured by `make bench-herd`: here the simulator dates vouchers by the wall clock
while this server's clock runs days ahead, so every deadline has already passed when the
payment starts."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from cobro.db import payments_repo
from cobro.domain.payment import Timings
from cobro.domain.status import EventSource, PaymentStatus
from tests.workflows.conftest import GRACE_S, start_payment
from workflows.payment import PaymentWorkflow


async def test_an_unpaid_voucher_with_a_spread_expires_through_the_psp_queue(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    timings = Timings(grace=GRACE_S, expiry_spread=1800)
    handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=timings)
    await handle.execute_update(PaymentWorkflow.create)
    assert await handle.result() == PaymentStatus.EXPIRED
    async with sessions() as session:
        rows = await payments_repo.list_events(session, payment.payment_id)
    assert (rows[-1].to_status, rows[-1].source) == ("expired", EventSource.TIMER)
    assert "charge voided at stripe" in (rows[-1].detail or "")
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in (await handle.fetch_history()).events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    # any status checks, then the void: all on Stripe's rate-limited queue
    calls = [(a.activity_type.name, a.task_queue.name) for a in scheduled]
    assert {queue for _, queue in calls} == {"psp-stripe"}, calls
    assert calls[-1] == ("cancel_charge", "psp-stripe"), calls
