"""Conekta as a cobro PSP: orders with one `cash` (OXXO) or `spei` charge."""

from datetime import UTC, datetime
from typing import Any

from cobro.domain.expiry import oxxo_days, oxxo_expires_at
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult
from cobro.psp.conekta import mapping
from cobro.psp.conekta.capability import CAPABILITY
from cobro.psp.conekta.client import ConektaClient
from cobro.psp.errors import PspRejected


class ConektaAdapter:
    name = "conekta"

    def __init__(self, client: ConektaClient) -> None:
        self._client = client

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        if payment.method == PaymentMethod.OXXO:
            # Conekta takes the voucher's exact end; cobro applies Stripe's documented rule
            # (23:59 Mexico City time on the last day) so vouchers behave alike at every PSP.
            expires_at = oxxo_expires_at(datetime.now(UTC), oxxo_days(payment.expires_in))
        order = order_body(payment, expires_at)
        created = await self._client.create_order(
            order, idempotency_key=f"cobro-payment-{payment.payment_id}"
        )
        instructions, charge_expires_at = mapping.instructions(created)
        return ChargeCreated(
            psp_reference=created["id"], instructions=instructions, expires_at=charge_expires_at
        )

    async def get_charge(self, reference: str) -> PspEvent:
        order = await self._client.get_order(reference)
        state = mapping.event_from_order(order, "", datetime.now(UTC))
        return state.model_copy(update={"event_id": f"poll:{reference}:{state.psp_status}"})

    async def cancel_charge(self, reference: str) -> None:
        await self._client.cancel_order(reference)

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        if customer_reference is not None:
            raise PspRejected("conekta keeps no customer balance to refund from")
        order = await self._client.refund_order(reference, amount, refund_id)
        return PspRefundResult(psp_reference=f"{order['id']}:{refund_id}", status="succeeded")

    async def find_charges(self, payment_id: str) -> list[str]:
        orders = await self._client.search_orders(payment_id)
        return [
            o["id"]
            for o in orders
            if o.get("metadata", {}).get("cobro_payment_id") == payment_id
            and o.get("payment_status") == "pending_payment"
        ]


def order_body(payment: PaymentInput, expires_at: datetime) -> dict[str, Any]:
    """The order cobro creates (`POST /orders`). Conekta requires customer_info's name, email
    and phone: routing sends Conekta only payments that have them (its capability's
    needs_customer); a payment routed before that rule is refused here, saying why, rather
    than sent for Conekta to refuse."""
    customer = payment.known_customer
    if refusal := CAPABILITY.refuses_customer(ConektaAdapter.name, customer):
        raise PspRejected(refusal)
    return {
        "currency": payment.currency,
        "customer_info": {"name": customer.name, "email": customer.email, "phone": customer.phone},
        "line_items": [
            {"name": payment.description or "Pago", "unit_price": payment.amount, "quantity": 1}
        ],
        "charges": [
            {
                "payment_method": {
                    "type": "cash" if payment.method == PaymentMethod.OXXO else "spei",
                    "expires_at": int(expires_at.timestamp()),
                }
            }
        ],
        "metadata": {**payment.metadata, "cobro_payment_id": payment.payment_id},
    }
