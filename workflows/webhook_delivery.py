"""MerchantWebhookDelivery: one queue per (endpoint, payment), so a payment's events reach an
endpoint in order, and a slow or dead endpoint only ever delays its own deliveries."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro.domain.merchant_events import DELIVERY_WORKFLOW, DeliveryQueue

IDLE = timedelta(hours=1)  # with nothing to send for this long the queue closes (and reopens)


@workflow.defn(name=DELIVERY_WORKFLOW)
class MerchantWebhookDelivery:
    @workflow.init
    def __init__(self, queue: DeliveryQueue) -> None:
        self.pending: list[str] = []

    @workflow.signal
    def deliver(self, delivery_id: str) -> None:
        """A delivery to send (or to send again: a replay)."""
        self.pending.append(delivery_id)

    @workflow.run
    async def run(self, queue: DeliveryQueue) -> None:
        retry = RetryPolicy(
            initial_interval=timedelta(seconds=queue.retry_initial_seconds),
            backoff_coefficient=2.0,
            maximum_interval=timedelta(hours=1),
        )
        while True:
            try:
                await workflow.wait_condition(
                    lambda: bool(self.pending), timeout=IDLE, timeout_summary="idle"
                )
            except TimeoutError:
                if not self.pending:
                    return
            delivery_id = self.pending.pop(0)
            workflow.set_current_details(f"Delivering {delivery_id}; {len(self.pending)} after it.")
            try:
                await workflow.execute_activity(
                    api.deliver_webhook,
                    delivery_id,
                    start_to_close_timeout=timedelta(seconds=30),
                    schedule_to_close_timeout=timedelta(seconds=queue.retry_for_seconds),
                    retry_policy=retry,
                    summary=f"deliver {delivery_id}",
                )
            except ActivityError:
                await workflow.execute_activity(
                    api.give_up_delivery,
                    delivery_id,
                    start_to_close_timeout=timedelta(seconds=30),
                    summary=f"give up on {delivery_id}",
                )
