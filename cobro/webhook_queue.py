"""Handing a merchant webhook delivery to its queue: one MerchantWebhookDelivery workflow per
(endpoint, payment), started by name so that neither the API nor the activities import it."""

from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy

from cobro.domain.merchant_events import DELIVERY_WORKFLOW, DeliveryQueue, delivery_workflow_id
from cobro.task_queues import MERCHANT_WEBHOOKS


async def enqueue_delivery(client: Client, queue: DeliveryQueue, delivery_id: str) -> None:
    """Signal-with-start the endpoint's queue for this payment (started if not running)."""
    await client.start_workflow(
        DELIVERY_WORKFLOW,
        queue,
        id=delivery_workflow_id(queue.endpoint_id, queue.payment_id),
        task_queue=MERCHANT_WEBHOOKS,
        start_signal="deliver",
        start_signal_args=[delivery_id],
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"webhooks of {queue.payment_id} to {queue.endpoint_id}",
    )
