"""The Temporal Schedule that runs DailyReconciliation at 00:30 America/Mexico_City."""

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleSpec,
)

from cobro.task_queues import PAYMENTS
from workflows.reconciliation import SCHEDULE_ID, DailyReconciliation


async def ensure_schedule(client: Client) -> bool:
    """Create the schedule unless it exists; True when it was created now."""
    try:
        await client.create_schedule(
            SCHEDULE_ID,
            Schedule(
                action=ScheduleActionStartWorkflow(
                    DailyReconciliation.run, id="reconciliation", task_queue=PAYMENTS
                ),
                spec=ScheduleSpec(
                    cron_expressions=["30 0 * * *"], time_zone_name="America/Mexico_City"
                ),
            ),
        )
    except ScheduleAlreadyRunningError:
        return False
    return True
