"""MoonPay as a cobro PSP: a crypto on-ramp where the customer pays MXN and MoonPay delivers
crypto to a wallet, through MoonPay's widget and its documented server-to-server API
(cobro/psp/moonpay/README.md).

- create_charge makes no call: the customer buys in MoonPay's widget, at a URL signed with the
  secret key that carries the payment id as `externalTransactionId` (the instructions hold its
  parameters; the API adds the wallet and signs it, cobro/psp/moonpay/widget.py). The payment id
  is the charge's reference, and a retried create gives the same charge.
- get_charge reads the payment's purchase (`GET /v1/transactions/ext/{payment id}`); none means
  the customer has not started.
- cancel_charge: MoonPay documents no cancellation of a buy. With no purchase started there is
  nothing to void (the URL can still be opened later: a purchase then is late money, handled
  as for any PSP); once the customer has started, MoonPay finishes the purchase and cobro
  refuses to cancel (PspRejected). A failed purchase needs nothing either.
- refund is not offered (the capability says so, so the workflow never asks): delivered crypto
  cannot be taken back, and when delivery fails MoonPay returns the fiat itself.
"""

from datetime import UTC, datetime

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult
from cobro.psp.errors import PspRejected
from cobro.psp.moonpay import mapping
from cobro.psp.moonpay.client import MoonpayClient


class MoonpayAdapter:
    name = "moonpay"

    def __init__(self, client: MoonpayClient) -> None:
        self._client = client

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        if payment.method != PaymentMethod.CRYPTO or payment.crypto is None:
            raise PspRejected(f"moonpay only sells crypto; a {payment.method} payment has none")
        widget = mapping.widget_params(
            payment.payment_id, payment.crypto.currency_code, payment.amount
        )
        return ChargeCreated(
            psp_reference=payment.payment_id,
            instructions=mapping.instructions(payment.payment_id, widget, expires_at),
            expires_at=expires_at,
        )

    async def get_charge(self, reference: str) -> PspEvent:
        now = datetime.now(UTC)
        transaction = mapping.latest(await self._client.find_transactions(reference))
        if transaction is None:
            return mapping.nothing_started(reference, now)
        return mapping.event_from_transaction(transaction, mapping.poll_event_id(transaction), now)

    async def cancel_charge(self, reference: str) -> None:
        transaction = mapping.latest(await self._client.find_transactions(reference))
        if transaction is None or transaction.get("status") == "failed":
            return  # nothing MoonPay holds for this payment: nothing to void
        raise PspRejected(
            f"moonpay purchase {transaction.get('id')} is {transaction.get('status')}: the "
            "customer started it, and MoonPay offers merchants no way to cancel it"
        )

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        raise PspRejected(
            "moonpay purchases cannot be refunded through cobro: delivered crypto stays in the "
            "customer's wallet, and MoonPay refunds the fiat itself when delivery fails"
        )

    async def find_charges(self, payment_id: str) -> list[str]:
        """Nothing to void after a failover: create makes no call at MoonPay, and a purchase
        exists only once a customer opened the URL, which cobro never showed."""
        return []
