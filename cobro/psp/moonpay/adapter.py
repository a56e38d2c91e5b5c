"""MoonPay as a cobro PSP: a crypto on-ramp where the customer pays MXN and MoonPay delivers
crypto to a wallet.

- create_charge gets a buy quote (locked rate, fees, expiry, signature), then creates the
  purchase from it with `externalTransactionId` = the payment id: MoonPay (the simulator)
  answers a retried create with the transaction it already has, so a re-run activity never
  makes a second purchase. The customer pays at the transaction's hosted page. The charge
  expires with the quote when the quote expires first: an expired quote fails the payment by
  rule (it expires), it is never re-quoted behind the customer's back.
- get_charge reads the transaction; mapping.py turns its status and stages into cobro's terms.
- cancel_charge voids a purchase nobody has started; once MoonPay holds the customer's money it
  refuses, and MoonPay decides the outcome.
- refund is not offered (the capability says so, so the workflow never asks): delivered crypto
  cannot be taken back, and when delivery fails MoonPay refunds the fiat itself.
"""

from datetime import UTC, datetime

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import ChargeCreated, PaymentInput, PspEvent, PspRefundResult
from cobro.psp.errors import PspRejected
from cobro.psp.moonpay import mapping
from cobro.psp.moonpay.client import MoonpayClient

# How the customer pays MXN at MoonPay; the hosted page lets them choose.
PAYMENT_METHOD = "credit_debit_card"


class MoonpayAdapter:
    name = "moonpay"

    def __init__(self, client: MoonpayClient) -> None:
        self._client = client

    async def create_charge(self, payment: PaymentInput, expires_at: datetime) -> ChargeCreated:
        if payment.method != PaymentMethod.CRYPTO or payment.crypto is None:
            raise PspRejected(f"moonpay only sells crypto; a {payment.method} payment has none")
        wallet = {"address": payment.crypto.wallet_address}
        quote = await self._client.buy_quote(
            {
                "source": {
                    "asset": {"code": payment.currency},
                    "amount": mapping.centavos_to_amount(payment.amount),
                },
                "destination": {"asset": {"code": payment.crypto.currency_code.upper()}},
                "wallet": wallet,
                "paymentMethod": {"type": PAYMENT_METHOD},
                "externalCustomerId": payment.payment_id,
            }
        )
        transaction = await self._client.create_transaction(
            {
                "quote": {"signature": quote["signature"]},
                "externalTransactionId": payment.payment_id,
                # cobro keeps no customer accounts: each payment is its own MoonPay customer
                # reference, so identity (KYC) events name the payment they belong to.
                "externalCustomerId": payment.payment_id,
                "wallet": wallet,
                "customer": {"email": payment.known_customer.email},
            }
        )
        if transaction.get("externalTransactionId") != payment.payment_id:
            raise PspRejected(
                f"moonpay answered with transaction {transaction.get('id')} of another payment"
            )
        # A retried create gets the first transaction back, with the quote it locked then.
        quote_expires_at = mapping.parse_time((transaction.get("quote") or {}).get("expiresAt"))
        charge_expires_at = min(expires_at, quote_expires_at)
        return ChargeCreated(
            psp_reference=transaction["id"],
            instructions=mapping.instructions(transaction, charge_expires_at),
            expires_at=charge_expires_at,
        )

    async def get_charge(self, reference: str) -> PspEvent:
        transaction = await self._client.get_transaction(reference)
        return mapping.event_from_transaction(
            transaction, mapping.poll_event_id(transaction), datetime.now(UTC)
        )

    async def cancel_charge(self, reference: str) -> None:
        await self._client.cancel_transaction(reference)

    async def refund(
        self, reference: str, refund_id: str, amount: int, customer_reference: str | None
    ) -> PspRefundResult:
        raise PspRejected(
            "moonpay purchases cannot be refunded through cobro: delivered crypto stays in the "
            "customer's wallet, and MoonPay refunds the fiat itself when delivery fails"
        )

    async def find_charges(self, payment_id: str) -> list[str]:
        """Purchases for the payment that nobody has started (still voidable)."""
        return [
            t["id"]
            for t in await self._client.find_transactions(payment_id)
            if t.get("externalTransactionId") == payment_id
            and t.get("status") == "pending"
            and mapping.untouched(t)
        ]
