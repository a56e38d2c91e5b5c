"""Stripe objects -> cobro terms: payment instructions, and webhook events -> PspEvent."""

from datetime import UTC, datetime, timedelta
from typing import Any

from cobro.domain.payment import PspEvent, PspEventKind

# payment_intent.* event types (docs.stripe.com/api/events/types) and what they mean for cobro.
# OXXO: requires_action when the voucher is issued, succeeded once the cash is processed.
# Bank transfer: partially_funded when a transfer covers part of the amount.
EVENT_KINDS: dict[str, PspEventKind] = {
    "payment_intent.succeeded": "paid",
    "payment_intent.partially_funded": "partially_paid",
    "payment_intent.payment_failed": "failed",
    "payment_intent.canceled": "canceled",
    "payment_intent.requires_action": "other",
    "payment_intent.processing": "other",
    "payment_intent.created": "other",
}


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
            "expires_at": expires_at.isoformat().replace("+00:00", "Z"),
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
            "expires_at": fallback_expires_at.isoformat().replace("+00:00", "Z"),
        }, fallback_expires_at
    raise ValueError(f"PaymentIntent {intent.get('id')} has no payment instructions: {action!r}")


def event_from_webhook(event: dict[str, Any]) -> PspEvent:
    intent = event["data"]["object"]
    return PspEvent(
        psp="stripe",
        event_id=event["id"],
        kind=EVENT_KINDS.get(event["type"], "other"),
        psp_reference=intent["id"],
        psp_status=intent.get("status", ""),
        amount_received=int(intent.get("amount_received") or 0),
        occurred_at=_ts(int(event["created"])),
    )


def default_expiry(now: datetime, expires_in_s: int) -> datetime:
    return now + timedelta(seconds=expires_in_s)
