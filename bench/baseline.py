"""The bare Temporal baseline: the minimum a payment needs, and nothing else.

Start, one activity (a no-op standing in for "create the PSP charge"), wait for one signal
(standing in for the PSP webhook), complete. No database, no search attributes, no timers.
The module does nothing at import time: the workflow sandbox re-imports it.
"""

from datetime import timedelta

from temporalio import activity, workflow

TASK_QUEUE = "bench-baseline"


@activity.defn(name="bench_create_charge")
async def create_charge(payment_id: str) -> str:
    """A no-op PSP call: returns a reference at once."""
    return f"ch_{payment_id}"


@workflow.defn(name="BenchBaselineWorkflow")
class BaselineWorkflow:
    def __init__(self) -> None:
        self.paid = False

    @workflow.run
    async def run(self, payment_id: str) -> str:
        reference: str = await workflow.execute_activity(
            create_charge, payment_id, start_to_close_timeout=timedelta(seconds=30)
        )
        await workflow.wait_condition(lambda: self.paid)
        return reference

    @workflow.signal
    def paid_signal(self) -> None:
        self.paid = True
