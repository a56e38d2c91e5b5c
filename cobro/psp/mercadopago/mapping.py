"""Mercado Pago payments and refunds -> cobro terms (see README.md for what is verified).

Amounts travel as decimal pesos (`transaction_amount: 250.5`); cobro keeps integer centavos, so
every conversion is exact or raises. A payment's `status` (with `status_detail`) is what cobro
maps; MP's notifications carry only the payment id, so events are built from `GET
/v1/payments/{id}` (confirmation.py) or a poll, never from a notification's word.
"""

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from cobro.domain.payment import PspEvent, PspEventKind, PspRefundResult, RefundStatus
from cobro.domain.refund_status import refund_status
from cobro.domain.timestamps import rfc3339_utc

PSP = "mercadopago"

# Payment `status` values ("Payment creation results", mercadopago.com.mx developers). A
# cancelled payment whose `status_detail` is `expired` ran out of time (MP cancels unpaid
# tickets after `date_of_expiration`). `refunded` / `charged_back` were paid first: the money
# stays received as far as the charge is concerned (refunds are cobro's own records).
STATUS_KINDS: dict[str, PspEventKind] = {
    "pending": "other",
    "in_process": "processing",
    "authorized": "processing",
    "approved": "paid",
    "rejected": "failed",
    "cancelled": "canceled",
    "refunded": "other",
    "charged_back": "other",
}
PAID_STATUSES = frozenset({"approved", "refunded", "charged_back"})

# Refund `status` (the refund object of POST /v1/payments/{id}/refunds): approved, in_process
# (MP's "contingency"), rejected; cancelled is assumed to mean the money never left.
REFUND_STATUSES: dict[str, RefundStatus] = {
    "approved": "succeeded",
    "in_process": "pending",
    "rejected": "failed",
    "cancelled": "failed",
}


def to_pesos(centavos: int) -> float:
    """25050 -> 250.5, as MP's JSON carries amounts (exact: two decimals fit a double)."""
    return float(Decimal(centavos) / 100)


def to_centavos(amount: object) -> int:
    """MP's decimal amount -> integer centavos; ValueError unless it is whole centavos."""
    if isinstance(amount, bool) or not isinstance(amount, int | float | str):
        raise ValueError(f"not an amount: {amount!r}")
    try:
        centavos = Decimal(str(amount)) * 100
    except InvalidOperation:
        raise ValueError(f"not an amount: {amount!r}") from None
    if centavos != centavos.to_integral_value():
        raise ValueError(f"{amount!r} is not a whole number of centavos")
    return int(centavos)


def parse_time(value: object) -> datetime:
    """MP's ISO 8601 times with an offset (`2026-05-10T13:43:14.586-04:00`) -> aware UTC."""
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:  # never read as this server's local time
        raise ValueError(f"{value!r} has no UTC offset")
    return moment.astimezone(UTC)


def mp_time(moment: datetime) -> str:
    """An instant as MP takes `date_of_expiration`: `yyyy-MM-ddTHH:mm:ss.SSS±hh:mm`."""
    return moment.isoformat(timespec="milliseconds")


def kind_of(payment: dict[str, Any]) -> PspEventKind:
    status = str(payment.get("status", ""))
    if status == "cancelled" and payment.get("status_detail") == "expired":
        return "expired"
    return STATUS_KINDS.get(status, "other")


def event_from_payment(payment: dict[str, Any], occurred_at: datetime) -> PspEvent:
    """A payment's state in cobro's terms; `event_id` names the state observed, so the same
    state seen twice (two notifications, or a notification and a poll) is one event."""
    status = str(payment.get("status", ""))
    detail = str(payment.get("status_detail") or "")
    received = to_centavos(payment["transaction_amount"]) if status in PAID_STATUSES else 0
    kind = kind_of(payment)
    return PspEvent(
        psp=PSP,
        event_id=f"{PSP}:{payment['id']}:{status}:{detail}",
        kind=kind,
        psp_reference=str(payment["id"]),
        psp_status=f"{status}/{detail}" if detail else status,
        amount_received=received,
        occurred_at=occurred_at,
        failure_reason=f"mercadopago rejected the payment: {detail}" if kind == "failed" else None,
    )


def instructions(
    payment: dict[str, Any], fallback_expires_at: datetime
) -> tuple[dict[str, Any], datetime]:
    """What the customer needs to pay, and when it stops being payable (UTC)."""
    expires = payment.get("date_of_expiration")
    expires_at = parse_time(expires) if expires else fallback_expires_at
    details = payment.get("transaction_details") or {}
    common = {
        "voucher_url": details.get("external_resource_url"),
        "expires_at": rfc3339_utc(expires_at),
    }
    if payment.get("payment_type_id") == "ticket":
        return {
            "type": "oxxo",
            "reference": details.get("payment_method_reference_id"),
            "barcode": (payment.get("barcode") or {}).get("content"),
            **common,
        }, expires_at
    if payment.get("payment_type_id") == "bank_transfer":
        data = (payment.get("point_of_interaction") or {}).get("transaction_data") or {}
        collector = (data.get("bank_info") or {}).get("collector") or {}
        spei: dict[str, Any] = {
            "type": "spei",
            "reference": str(payment["id"]),
            "hosted_instructions_url": common.pop("voucher_url"),
            **common,
        }
        if collector.get("account_number"):  # assumed shape (README.md); the URL always works
            spei |= {
                "clabe": collector["account_number"],
                "bank": collector.get("long_name"),
                "beneficiary": collector.get("account_holder_name"),
            }
        return spei, expires_at
    raise ValueError(f"mercadopago payment {payment.get('id')} is neither a ticket nor a transfer")


def refund_reference(payment_id: object, refund_id: object) -> str:
    """cobro's reference for an MP refund: both ids, since MP reads a refund under its payment."""
    return f"{payment_id}/{refund_id}"


def refund_result(refund: dict[str, Any], cobro_refund_id: str | None = None) -> PspRefundResult:
    """UnknownRefundStatus (a ValueError) for a status no mapping covers."""
    status = refund_status(PSP, REFUND_STATUSES, refund.get("status"))
    reason = None
    if status == "failed":
        reason = (
            f"mercadopago refund {refund['status']}: {refund.get('status_detail') or 'unknown'}"
        )
    metadata = refund.get("metadata") or {}
    echoed = metadata.get("cobro_refund_id") if isinstance(metadata, dict) else None
    return PspRefundResult(
        psp_reference=refund_reference(refund["payment_id"], refund["id"]),
        status=status,
        failure_reason=reason,
        refund_id=echoed if isinstance(echoed, str) else cobro_refund_id,
        psp_status=str(refund["status"]),
    )
