"""Events cobro sends to merchants (SPEC §6) and what the payment workflow hands over."""

from pydantic import BaseModel

EVENT_TYPES = frozenset(
    {
        "payment.succeeded",
        "payment.failed",
        "payment.expired",
        "payment.canceled",
        "payment.late_payment",
        "refund.succeeded",
        "refund.failed",
    }
)
# A payment status that is news for the merchant, and the event that says so.
STATUS_EVENTS = {
    "succeeded": "payment.succeeded",
    "failed": "payment.failed",
    "expired": "payment.expired",
    "canceled": "payment.canceled",
}


class MerchantEventInput(BaseModel):
    # Derived from the refund (refund events) or the payment's transition seq: publishing is
    # idempotent, and each refund's outcome is its own event.
    event_id: str
    payment_id: str
    merchant_id: str
    type: str
    refund_id: str | None = None


class DeliveryQueue(BaseModel):
    """Input of the per-(endpoint, payment) delivery workflow, which keeps events in order."""

    endpoint_id: str
    payment_id: str
    retry_initial_seconds: float
    retry_for_seconds: int


# The per-(endpoint, payment) delivery workflow's type, started by name (cobro/webhook_queue.py).
DELIVERY_WORKFLOW = "MerchantWebhookDelivery"


def delivery_workflow_id(endpoint_id: str, payment_id: str) -> str:
    return f"webhooks-{endpoint_id}-{payment_id}"
