"""Stripe as a cobro PSP: PaymentIntents for OXXO and Mexican bank transfers."""

from datetime import UTC, datetime

from cobro.domain.expiry import oxxo_days
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult
from cobro.psp.stripe import mapping
from cobro.psp.stripe.client import StripeClient


class StripeAdapter:
    name = "stripe"

    def __init__(self, client: StripeClient) -> None:
        self._client = client

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        customer_id = None
        if payment.method == PaymentMethod.SPEI:  # Stripe bank transfers need a customer
            customer_id = (await self._client.create_customer(payment))["id"]
        intent = await self._client.create_payment_intent(
            payment, oxxo_days(payment.expires_in), customer_id
        )
        # Stripe dates OXXO vouchers itself; a bank transfer expires when cobro says so.
        instructions, charge_expires_at = mapping.instructions(intent, expires_at)
        return ChargeCreated(
            psp_reference=intent["id"],
            instructions=instructions,
            expires_at=charge_expires_at,
            customer_reference=customer_id,
        )

    async def get_charge(self, reference: str) -> PspEvent:
        intent = await self._client.retrieve_payment_intent(reference)
        state = mapping.event_from_intent(intent, "", datetime.now(UTC))
        return state.model_copy(
            update={"event_id": f"poll:{reference}:{intent['status']}:{state.amount_received}"}
        )

    async def cancel_charge(self, reference: str) -> None:
        await self._client.cancel_payment_intent(reference)

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        refund = await self._client.create_refund(refund_id, amount, reference, customer_reference)
        return mapping.refund_result(refund)

    async def get_refund(self, refund_reference: str) -> PspRefundResult:
        """A refund's current state, for one still pending when no webhook settled it."""
        return mapping.refund_result(await self._client.retrieve_refund(refund_reference))

    async def find_charges(self, payment_id: str) -> list[str]:
        intents = await self._client.search_payment_intents(payment_id)
        return [i["id"] for i in intents if i["status"] not in ("canceled", "succeeded")]
