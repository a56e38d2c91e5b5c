"""Conekta orders and events -> cobro terms.

An order's `payment_status` goes pending_payment -> paid, or expired / canceled
(developers.conekta.com "order.*" events); amounts are integer centavos.
"""

from datetime import UTC, datetime
from typing import Any

from cobro.domain.payment import PspEvent, PspEventKind
from cobro.domain.timestamps import rfc3339_utc

ORDER_STATUS_KINDS: dict[str, PspEventKind] = {
    "paid": "paid",
    "expired": "expired",
    "canceled": "canceled",
    "voided": "canceled",
    "declined": "failed",
    "pending_payment": "other",
    "refunded": "other",
    "partially_refunded": "other",
}
EVENT_KINDS: dict[str, PspEventKind] = {
    "order.paid": "paid",
    "charge.paid": "paid",
    "order.expired": "expired",
    "order.canceled": "canceled",
    "order.voided": "canceled",
    "order.declined": "failed",
    "order.pending_payment": "other",
    "order.created": "other",
    "order.refunded": "other",
    "order.partially_refunded": "other",
    "charge.refunded": "other",
}


def _utc(unix: int) -> str:
    return rfc3339_utc(datetime.fromtimestamp(unix, tz=UTC))


def instructions(order: dict[str, Any]) -> tuple[dict[str, Any], datetime]:
    method = order["charges"]["data"][0]["payment_method"]
    expires_at = datetime.fromtimestamp(int(method["expires_at"]), tz=UTC)
    if method["type"] == "spei":
        return {
            "type": "spei",
            "clabe": method["clabe"],
            "bank": method["bank"],
            "beneficiary": method.get("receiving_account_holder_name", "Conekta"),
            "reference": order["id"],
            "expires_at": _utc(int(method["expires_at"])),
        }, expires_at
    return {
        "type": "oxxo",
        "reference": method["reference"],
        "barcode_url": method["barcode_url"],
        "expires_at": _utc(int(method["expires_at"])),
    }, expires_at


def event_from_order(
    order: dict[str, Any], event_id: str, occurred_at: datetime, kind: PspEventKind | None = None
) -> PspEvent:
    status = order.get("payment_status", "")
    paid = status in ("paid", "refunded", "partially_refunded")
    return PspEvent(
        psp="conekta",
        event_id=event_id,
        psp_reference=order["id"],
        psp_status=status,
        kind=kind or ORDER_STATUS_KINDS.get(status, "other"),
        amount_received=int(order["amount"]) if paid else 0,
        occurred_at=occurred_at,
    )


def event_from_webhook(event: dict[str, Any]) -> PspEvent:
    obj = event["data"]["object"]
    occurred_at = datetime.fromtimestamp(int(event["created_at"]), tz=UTC)
    kind = EVENT_KINDS.get(event["type"], "other")
    if obj.get("object") == "charge":  # charge.* events carry the charge, not the order
        return PspEvent(
            psp="conekta",
            event_id=event["id"],
            kind=kind,
            psp_reference=obj["order_id"],
            psp_status=obj.get("status", ""),
            amount_received=int(obj["amount"]) if kind == "paid" else 0,
            occurred_at=occurred_at,
        )
    return event_from_order(obj, event["id"], occurred_at, kind)
