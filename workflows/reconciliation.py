"""DailyReconciliation: started by a Temporal Schedule after midnight America/Mexico_City,
it reconciles the previous Mexico City business day (or the day it is given)."""

from datetime import date, timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro.domain.business_day import previous_business_day

SCHEDULE_ID = "daily-reconciliation"


@workflow.defn(name="DailyReconciliation")
class DailyReconciliation:
    @workflow.run
    async def run(self, day: date | None = None) -> api.DaySummary:
        target = day or previous_business_day(workflow.now())
        workflow.set_current_details(f"Reconciling the Mexico City day {target}.")
        return await workflow.execute_activity(
            api.reconcile_day,
            api.ReconcileDay(day=target),
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            summary=f"reconcile {target}",
        )
