"""The expiry spread (Timings.expiry_spread, history version 4): an unpaid voucher is checked
and voided at a random moment after its deadline, never before it and never later than the
spread, and its checks and voids at Stripe run on Stripe's own task queue."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from cobro.db import payments_repo
from cobro.domain.payment import Timings
from cobro.domain.status import EventSource, PaymentStatus
from tests.workflows.conftest import GRACE_S, start_payment
from workflows.payment import PaymentWorkflow

SPREAD_S = 1800


async def test_an_unpaid_voucher_expires_within_the_spread_after_its_deadline(
    worker_env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant: tuple[str, str],
) -> None:
    expiries = []
    for _ in range(3):
        timings = Timings(grace=GRACE_S, expiry_spread=SPREAD_S)
        handle, payment = await start_payment(worker_env, sessions, merchant[0], timings=timings)
        outcome = await handle.execute_update(PaymentWorkflow.create)
        assert outcome.expires_at is not None
        assert await handle.result() == PaymentStatus.EXPIRED
        async with sessions() as session:
            rows = await payments_repo.list_events(session, payment.payment_id)
        last = rows[-1]
        assert (last.to_status, last.source) == ("expired", EventSource.TIMER)
        deadline = outcome.expires_at + timedelta(seconds=GRACE_S)
        assert deadline <= last.at < deadline + timedelta(seconds=SPREAD_S, minutes=1)
        expiries.append(last.at - deadline)
        queues = {
            e.activity_task_scheduled_event_attributes.task_queue.name
            for e in (await handle.fetch_history()).events
            if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
        }
        assert queues == {"psp-stripe"}, queues  # the status check and the void
    assert len(set(expiries)) == 3, expiries  # spread, not all at one moment
