"""PSP activities: create the charge at the chosen PSP, idempotently."""

from datetime import datetime

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cobro.domain.expiry import oxxo_days
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput
from cobro.psp.errors import PspRejected
from cobro.psp.stripe import mapping
from cobro.psp.stripe.client import StripeClient


class ChargeRequest(BaseModel):
    payment: PaymentInput
    # Decided by the workflow, so a retried activity asks for the same expiry.
    expires_at: datetime


class PspActivities:
    def __init__(self, stripe: StripeClient) -> None:
        self._stripe = stripe

    @activity.defn(name="create_charge")
    async def create_charge(self, request: ChargeRequest) -> ChargeCreated:
        payment = request.payment
        if payment.psp != "stripe":
            raise ApplicationError(
                f"PSP {payment.psp!r} is not supported yet", type="PspRejected", non_retryable=True
            )
        try:
            customer_id = None
            if payment.method == PaymentMethod.SPEI:  # Stripe bank transfers need a customer
                customer_id = (await self._stripe.create_customer(payment))["id"]
            intent = await self._stripe.create_payment_intent(
                payment, oxxo_days(payment.expires_in), customer_id
            )
        except PspRejected as exc:
            raise ApplicationError(str(exc), type="PspRejected", non_retryable=True) from exc
        # PspUnavailable propagates and Temporal retries; the idempotency key replays the
        # first create, so an outcome we never saw is looked up, not charged again.
        instructions, expires_at = mapping.instructions(intent, request.expires_at)
        return ChargeCreated(
            psp_reference=intent["id"], instructions=instructions, expires_at=expires_at
        )
