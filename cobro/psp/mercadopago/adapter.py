"""Mercado Pago as a cobro PSP: one payment per charge, `oxxo` (a ticket) or `clabe` (a SPEI
bank transfer), created through `POST /v1/payments`."""

from datetime import UTC, datetime
from typing import Any

from cobro.domain.expiry import MEXICO_CITY, oxxo_days, oxxo_expires_at
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult
from cobro.psp.errors import PspRejected
from cobro.psp.mercadopago import mapping
from cobro.psp.mercadopago.client import MercadopagoClient

PAYABLE = frozenset({"pending", "in_process"})


def payment_body(payment: PaymentInput, expires_at: datetime) -> dict[str, Any]:
    customer = payment.known_customer
    payer: dict[str, Any] = {"first_name": customer.name, "entity_type": "individual"}
    if customer.email:
        payer["email"] = customer.email
    return {
        "transaction_amount": mapping.to_pesos(payment.amount),
        "description": payment.description or "Pago",
        "payment_method_id": "oxxo" if payment.method == PaymentMethod.OXXO else "clabe",
        "date_of_expiration": mapping.mp_time(expires_at.astimezone(MEXICO_CITY)),
        "external_reference": payment.payment_id,
        "payer": payer,
        "metadata": {**payment.metadata, "cobro_payment_id": payment.payment_id},
    }


class MercadopagoAdapter:
    name = mapping.PSP

    def __init__(self, client: MercadopagoClient) -> None:
        self._client = client

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        if payment.method == PaymentMethod.OXXO:
            # cobro's voucher rule (23:59 Mexico City on the last day) at every PSP.
            expires_at = oxxo_expires_at(datetime.now(UTC), oxxo_days(payment.expires_in))
        created = await self._client.create_payment(
            payment_body(payment, expires_at),
            # Derived from the payment id: a retried or re-run activity can never charge twice.
            idempotency_key=f"cobro-payment-{payment.payment_id}",
        )
        instructions, charge_expires_at = mapping.instructions(created, expires_at)
        return ChargeCreated(
            psp_reference=str(created["id"]),
            instructions=instructions,
            expires_at=charge_expires_at,
        )

    async def get_charge(self, reference: str) -> PspEvent:
        payment = await self._client.get_payment(reference)
        return mapping.event_from_payment(payment, datetime.now(UTC))

    async def cancel_charge(self, reference: str) -> None:
        payment = await self._client.get_payment(reference)
        if payment.get("status") == "cancelled":
            return  # voided already (by cobro before, or expired at MP)
        if payment.get("status") not in PAYABLE:
            raise PspRejected(f"mercadopago payment {reference} is {payment.get('status')}")
        await self._client.cancel_payment(reference)

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        if customer_reference is not None:
            raise PspRejected("mercadopago keeps no customer balance cobro can refund from")
        refund = await self._client.refund(
            reference, mapping.to_pesos(amount), idempotency_key=f"cobro-refund-{refund_id}"
        )
        return mapping.refund_result(refund, refund_id)

    async def get_refund(self, refund_reference: str) -> PspRefundResult:
        """A refund's current state (MP may keep one `in_process`)."""
        payment_id, _, refund_id = refund_reference.partition("/")
        return mapping.refund_result(await self._client.get_refund(payment_id, refund_id))

    async def find_charges(self, payment_id: str) -> list[str]:
        payments = await self._client.search_payments(payment_id)
        return [
            str(p["id"])
            for p in payments
            if p.get("external_reference") == payment_id and p.get("status") in PAYABLE
        ]
