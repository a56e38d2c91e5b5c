"""Stripe objects -> cobro terms: payment instructions, and webhook events -> PspEvent."""

from datetime import UTC, datetime
from typing import Any

from cobro.domain.payment import PspEvent, PspEventKind, PspRefundResult, RefundStatus
from cobro.domain.refund_status import refund_status
from cobro.domain.timestamps import rfc3339_utc

# payment_intent.* event types (docs.stripe.com/api/events/types) and what they mean for cobro.
# OXXO: requires_action when the voucher is issued, succeeded once the cash is processed.
# Bank transfer: partially_funded when a transfer covers part of the amount.
EVENT_KINDS: dict[str, PspEventKind] = {
    "payment_intent.succeeded": "paid",
    "payment_intent.partially_funded": "partially_paid",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
    "payment_intent.requires_action": "other",
    "payment_intent.processing": "processing",
    "payment_intent.created": "other",
}


# PaymentIntent.status -> cobro, for polls (docs.stripe.com/payments/paymentintents/lifecycle).
INTENT_STATUS_KINDS: dict[str, PspEventKind] = {
    "succeeded": "paid",
    "processing": "processing",
    "canceled": "canceled",
    "requires_payment_method": "failed",
    "requires_action": "other",
    "requires_confirmation": "other",
}
CASH_BALANCE_FUNDED = "customer_cash_balance_transaction.created"

# Refund.status, every value docs.stripe.com/api/refunds/object documents. `requires_action`
# waits for the customer (a bank transfer refund needs their account details, which Stripe asks
# them for) and keeps the amount reserved; `canceled` means the money never left, so for cobro
# it is a failed refund whose amount can be refunded again.
REFUND_STATUSES: dict[str, RefundStatus] = {
    "pending": "pending",
    "requires_action": "pending",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
}
# Events whose `data.object` is a Refund. `refund.*` cover every refund since API version
# 2024-10-28.acacia (before it, only refunds without a charge, such as from a customer's cash
# balance); `charge.refund.updated` is sent for refunds of a charge on selected methods.
REFUND_EVENTS = frozenset(
    {"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"}
)


def _ts(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=UTC)


def instructions(
    intent: dict[str, Any], fallback_expires_at: datetime
) -> tuple[dict[str, Any], datetime]:
    """What the customer needs to pay, and when it stops being payable (UTC)."""
    action = intent.get("next_action") or {}
    if action.get("type") == "oxxo_display_details":
        oxxo = action["oxxo_display_details"]
        expires_at = _ts(oxxo["expires_after"])
        return {
            "type": "oxxo",
            "reference": oxxo["number"],
            "voucher_url": oxxo["hosted_voucher_url"],
            "expires_at": rfc3339_utc(expires_at),
        }, expires_at
    if action.get("type") == "display_bank_transfer_instructions":
        transfer = action["display_bank_transfer_instructions"]
        spei = next(a["spei"] for a in transfer["financial_addresses"] if a["type"] == "spei")
        return {
            "type": "spei",
            "clabe": spei["clabe"],
            "bank": spei["bank_name"],
            "beneficiary": spei["account_holder_name"],
            "reference": transfer["reference"],
            "amount_remaining": transfer["amount_remaining"],
            "hosted_instructions_url": transfer.get("hosted_instructions_url"),
            "expires_at": rfc3339_utc(fallback_expires_at),
        }, fallback_expires_at
    raise ValueError(f"PaymentIntent {intent.get('id')} has no payment instructions: {action!r}")


def event_from_intent(
    intent: dict[str, Any], event_id: str, occurred_at: datetime, kind: PspEventKind | None = None
) -> PspEvent:
    """A PaymentIntent's state in cobro's terms (from a webhook, or from a status poll)."""
    status = intent.get("status", "")
    if kind is None:
        kind = INTENT_STATUS_KINDS.get(status, "other")
        action = intent.get("next_action") or {}
        transfer = action.get("display_bank_transfer_instructions") or {}
        if kind == "other" and transfer and transfer.get("amount_remaining", 0) < intent["amount"]:
            kind = "partially_paid"
    return PspEvent(
        psp="stripe",
        event_id=event_id,
        kind=kind,
        psp_reference=intent["id"],
        psp_status=status,
        amount_received=_amount_received(intent),
        occurred_at=occurred_at,
    )


def _amount_received(intent: dict[str, Any]) -> int:
    if intent.get("status") == "succeeded":
        return int(intent.get("amount_received") or intent["amount"])
    transfer = (intent.get("next_action") or {}).get("display_bank_transfer_instructions")
    if transfer:  # a partly funded bank transfer
        return int(intent["amount"]) - int(transfer["amount_remaining"])
    return int(intent.get("amount_received") or 0)


def refund_result(refund: dict[str, Any]) -> PspRefundResult:
    """A Stripe Refund in cobro's terms; UnknownRefundStatus (a ValueError) for a status no
    mapping covers."""
    status = refund_status("stripe", REFUND_STATUSES, refund.get("status"))
    reason = None
    if status == "failed":
        reason = f"stripe refund {refund['status']}: {refund.get('failure_reason') or 'unknown'}"
    cobro_id = (refund.get("metadata") or {}).get("cobro_refund_id")
    return PspRefundResult(
        psp_reference=refund["id"],
        status=status,
        failure_reason=reason,
        refund_id=cobro_id if isinstance(cobro_id, str) else None,
        psp_status=refund["status"],
    )


def refund_event(event: dict[str, Any]) -> PspEvent:
    """A refund webhook. Its `psp_reference` is the PaymentIntent (or, for money refunded from
    a customer's cash balance, the customer), so the receiver finds the payment."""
    refund = event["data"]["object"]
    result = refund_result(refund)
    return PspEvent(
        psp="stripe",
        event_id=event["id"],
        kind="refund",
        psp_reference=refund.get("payment_intent") or refund.get("customer") or refund["id"],
        psp_status=f"{event['type']}: refund {refund['id']} {refund['status']}",
        occurred_at=_ts(int(event["created"])),
        refund=result,
    )


def event_from_webhook(event: dict[str, Any]) -> PspEvent:
    obj = event["data"]["object"]
    occurred_at = _ts(int(event["created"]))
    if event["type"] in REFUND_EVENTS:
        return refund_event(event)
    if event["type"] == CASH_BALANCE_FUNDED:
        # Money sent to a customer's CLABE after its PaymentIntent was canceled lands in the
        # customer's cash balance (docs.stripe.com/payments/customer-balance): late money.
        return PspEvent(
            psp="stripe",
            event_id=event["id"],
            kind="paid",
            psp_reference=obj["customer"],
            psp_status=obj["type"],
            amount_received=int(obj["net_amount"]),
            occurred_at=occurred_at,
        )
    return event_from_intent(obj, event["id"], occurred_at, EVENT_KINDS.get(event["type"], "other"))
