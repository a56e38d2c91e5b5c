"""PSP activities: create, look up, void and refund charges, always idempotently.

PspUnavailable (timeouts, 5xx, 429) propagates and Temporal retries it; PspRejected becomes a
non-retryable ApplicationError of type "PspRejected".
"""

from collections.abc import Awaitable
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cobro.domain.expiry import oxxo_days
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import (
    ChargeCreated,
    PaymentInput,
    PspEvent,
    PspRefundRequest,
    PspRefundResult,
)
from cobro.psp.errors import PspRejected
from cobro.psp.stripe import mapping
from cobro.psp.stripe.client import StripeClient

T = TypeVar("T")


class ChargeRequest(BaseModel):
    payment: PaymentInput
    # Decided by the workflow, so a retried activity asks for the same expiry.
    expires_at: datetime


class ChargeLookup(BaseModel):
    payment: PaymentInput
    psp_reference: str


async def _rejections_are_final(call: Awaitable[T]) -> T:
    try:
        return await call
    except PspRejected as exc:
        raise ApplicationError(str(exc), type="PspRejected", non_retryable=True) from exc


class PspActivities:
    def __init__(self, stripe: StripeClient) -> None:
        self._stripe = stripe

    def _check_psp(self, payment: PaymentInput) -> None:
        if payment.psp != "stripe":
            raise ApplicationError(
                f"PSP {payment.psp!r} is not supported yet",
                type="PspRejected",
                non_retryable=True,
            )

    @activity.defn(name="create_charge")
    async def create_charge(self, request: ChargeRequest) -> ChargeCreated:
        payment = request.payment
        self._check_psp(payment)
        customer_id = None
        if payment.method == PaymentMethod.SPEI:  # Stripe bank transfers need a customer
            customer = await _rejections_are_final(self._stripe.create_customer(payment))
            customer_id = customer["id"]
        # The idempotency key derives from the payment id: when an earlier attempt timed out
        # with its outcome unknown, this call returns that charge instead of making another.
        intent = await _rejections_are_final(
            self._stripe.create_payment_intent(payment, oxxo_days(payment.expires_in), customer_id)
        )
        instructions, expires_at = mapping.instructions(intent, request.expires_at)
        return ChargeCreated(
            psp_reference=intent["id"],
            instructions=instructions,
            expires_at=expires_at,
            customer_reference=customer_id,
        )

    @activity.defn(name="get_charge")
    async def get_charge(self, lookup: ChargeLookup) -> PspEvent:
        """The charge's current state at the PSP, for when no webhook came."""
        self._check_psp(lookup.payment)
        intent = await _rejections_are_final(
            self._stripe.retrieve_payment_intent(lookup.psp_reference)
        )
        received = mapping.event_from_intent(intent, "", activity.info().started_time)
        # One id per observed state, so polling the same state twice is a duplicate.
        event_id = f"poll:{intent['id']}:{intent['status']}:{received.amount_received}"
        return received.model_copy(update={"event_id": event_id})

    @activity.defn(name="cancel_charge")
    async def cancel_charge(self, lookup: ChargeLookup) -> None:
        """Void the voucher / CLABE at the PSP; rejected when it was paid meanwhile."""
        self._check_psp(lookup.payment)
        await _rejections_are_final(self._stripe.cancel_payment_intent(lookup.psp_reference))

    @activity.defn(name="refund_charge")
    async def refund_charge(self, request: PspRefundRequest) -> PspRefundResult:
        self._check_psp(request.payment)
        refund = await _rejections_are_final(
            self._stripe.create_refund(
                request.refund_id,
                request.amount,
                request.psp_reference,
                request.customer_reference,
            )
        )
        return PspRefundResult(
            psp_reference=refund["id"],
            status=refund["status"],
            failure_reason=refund.get("failure_reason"),
        )
