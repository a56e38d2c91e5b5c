"""MoonPay buy transactions in cobro's terms.

Facts followed (dev.moonpay.com widget API, getbuytransaction and the buy webhooks' example):
a buy transaction carries `id`, `createdAt`, `updatedAt`, `status`, `failureReason`,
`baseCurrencyAmount` (the fiat exchanged) with `feeAmount`, `extraFeeAmount` and
`networkFeeAmount` (JSON numbers, in the fiat currency), `quoteCurrencyAmount` (the crypto),
`walletAddress`, `cryptoTransactionId`, `externalTransactionId` and `externalCustomerId`. Its
`status` is one of `waitingPayment`, `pending`, `waitingAuthorization`, `failed`, `completed`.
The `baseCurrency` / `currency` objects' `code` field and the failure reasons the simulator sends
(`identity_verification_failed`, `payment_authorization_declined`, `delivery_failed`) follow the
documented shape but are not confirmed.

A purchase exists at MoonPay only once the customer has started it in the widget (cobro has no
create call). cobro's statuses:

- `awaiting_payment` while no transaction exists for the payment (polling finds none);
- `processing` once one exists and is not final: the customer has started and MoonPay decides
  the outcome (cobro's expiry timer stops, polling goes on; the merchant cannot cancel it);
- `succeeded` when it is `completed` (the crypto was sent), for what the customer paid:
  `baseCurrencyAmount` plus the fees;
- `failed` when it is `failed` (MoonPay returns any money it took).

cobro's reference for a MoonPay purchase is the payment id, which the widget URL passes as
`externalTransactionId`: it is known before MoonPay's transaction exists, and every event about
the purchase names it.
"""

from datetime import UTC, datetime
from typing import Any

from cobro.domain import money
from cobro.domain.payment import PspEvent, PspEventKind
from cobro.domain.timestamps import rfc3339_utc

TRANSACTION_STATUSES = ("waitingPayment", "pending", "waitingAuthorization", "failed", "completed")
STATUS_KINDS: dict[str, PspEventKind] = {
    "waitingPayment": "processing",
    "pending": "processing",
    "waitingAuthorization": "processing",
    "completed": "paid",
    "failed": "failed",
}
# The widget's buy webhooks (dev.moonpay.com/api-reference/widget/webhooks/buy).
WEBHOOK_TYPES = ("transaction_created", "transaction_updated", "transaction_failed")
FEE_FIELDS = ("feeAmount", "extraFeeAmount", "networkFeeAmount")


def utc(moment: datetime) -> str:
    return rfc3339_utc(moment)


def parse_time(value: object) -> datetime:
    """ISO 8601 (`2026-01-29T14:30:50.000Z`) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)


def centavos_to_amount(centavos: int) -> str:
    """Integer centavos as a decimal string of pesos: 25000 -> "250.00"."""
    return money.pesos_string(centavos)


def amount_to_centavos(amount: object) -> int:
    """MoonPay's amount of pesos (a Decimal read from a JSON number, or a string) as exact
    integer centavos; ValueError for anything else, a float included."""
    return money.to_centavos(amount, "amount")


def paid_centavos(transaction: dict[str, Any]) -> int:
    """What the customer paid: the fiat exchanged plus every fee, in MXN centavos. Raises
    ValueError for a purchase paid in another currency (the widget's currency is the
    customer's to change), which cobro must never count as pesos."""
    currency = str((transaction.get("baseCurrency") or {}).get("code", "")).upper()
    if currency != "MXN":
        raise ValueError(f"moonpay transaction {transaction.get('id')} was paid in {currency}")
    fees = sum(amount_to_centavos(transaction.get(f) or 0) for f in FEE_FIELDS)
    return amount_to_centavos(transaction.get("baseCurrencyAmount")) + fees  # base is required


def transaction_kind(transaction: dict[str, Any]) -> PspEventKind:
    # A status MoonPay may add later: kept and recorded, moves nothing.
    return STATUS_KINDS.get(str(transaction.get("status")), "other")


def failure_reason(transaction: dict[str, Any]) -> str:
    reason = transaction.get("failureReason") or "no reason given"
    return f"moonpay purchase {transaction.get('id')} failed: {reason}"


def describe(transaction: dict[str, Any]) -> str:
    """`completed: transaction 3f1...; tx 0x...`, or `failed (payment_authorization_declined):
    transaction 3f1...`."""
    status = str(transaction.get("status"))
    if status == "failed":
        status += f" ({transaction.get('failureReason') or 'no reason given'})"
    text = f"{status}: transaction {transaction.get('id')}"
    if tx_hash := transaction.get("cryptoTransactionId"):
        text += f"; tx {tx_hash}"
    return text


def poll_event_id(transaction: dict[str, Any]) -> str:
    """Identifies an observed state, so a poll that sees nothing new is a duplicate."""
    return f"poll:{transaction.get('id')}:{transaction.get('status')}"


def webhook_event_id(event_type: str, transaction: dict[str, Any]) -> str:
    """MoonPay's buy webhooks carry no event id: the transaction, its status and when it
    changed identify one (a redelivery is the same event)."""
    return (
        f"{event_type}:{transaction.get('id')}:{transaction.get('status')}:"
        f"{transaction.get('updatedAt')}"
    )


def reference(transaction: dict[str, Any]) -> str:
    value = transaction.get("externalTransactionId")
    if not isinstance(value, str) or not value:
        raise ValueError(f"transaction {transaction.get('id')} has no externalTransactionId")
    return value


def event_from_transaction(
    transaction: dict[str, Any], event_id: str, occurred_at: datetime
) -> PspEvent:
    kind = transaction_kind(transaction)
    return PspEvent(
        psp="moonpay",
        event_id=event_id,
        kind=kind,
        psp_reference=reference(transaction),
        psp_status=describe(transaction),
        amount_received=paid_centavos(transaction) if kind == "paid" else 0,
        occurred_at=occurred_at,
        failure_reason=failure_reason(transaction) if kind == "failed" else None,
    )


def latest(transactions: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The payment's purchase: a completed one first, then one still going, then the newest (a
    customer whose first attempt failed may start again from the same URL; a later attempt
    must not hide money a completed one delivered)."""
    return max(
        transactions,
        key=lambda t: (
            t.get("status") == "completed",
            t.get("status") != "failed",
            str(t.get("createdAt")),
        ),
        default=None,
    )


def nothing_started(payment_reference: str, occurred_at: datetime) -> PspEvent:
    return PspEvent(
        psp="moonpay",
        event_id=f"poll:{payment_reference}:none",
        kind="other",
        psp_reference=payment_reference,
        psp_status="no purchase started at MoonPay",
        occurred_at=occurred_at,
    )


def widget_params(payment_id: str, currency_code: str, amount: int) -> dict[str, str]:
    """The widget URL's parameters, less the wallet and the keys (cobro/psp/moonpay/widget.py
    adds them when the payment is shown). `externalCustomerId` is the payment id too: cobro
    keeps no customer accounts."""
    return {
        "currencyCode": currency_code.lower(),
        "baseCurrencyCode": "mxn",
        "baseCurrencyAmount": centavos_to_amount(amount),
        "lockAmount": "true",
        "externalTransactionId": payment_id,
        "externalCustomerId": payment_id,
    }


def instructions(payment_id: str, widget: dict[str, str], expires_at: datetime) -> dict[str, Any]:
    """What the customer needs: MoonPay's widget, opened at the signed URL the API shows
    (`hosted_url`, built from `widget` and the wallet kept in PostgreSQL, never in workflow
    history)."""
    return {
        "type": "crypto",
        "reference": payment_id,
        "widget": widget,
        "expires_at": utc(expires_at),
    }
