"""What cobro and the simulator's ledger may say about a payment, and which of their statuses
agree: the ground rules of the chaos check (bench/chaos_check.py)."""

from datetime import timedelta
from typing import Literal

FINAL = frozenset({"succeeded", "partially_refunded", "refunded", "failed", "expired", "canceled"})
SUCCEEDED = frozenset({"succeeded", "partially_refunded", "refunded"})
ENDED_UNPAID = frozenset({"expired", "canceled"})
# Ledger statuses of a charge that can no longer be paid (voided at the PSP).
DEAD = frozenset({"canceled", "expired", "voided"})

# Per PSP: the ledger status of the payment's charge -> the cobro statuses that agree with it.
# A charge the ledger shows paid in full must be `succeeded` (or refunded after it); one still
# payable must be `awaiting_payment` (cobro expiring a payment always voids its charge first, so
# an expired payment over a payable charge is wrong); one voided must be expired or canceled.
AGREES: dict[str, dict[str, frozenset[str]]] = {
    # PaymentIntent.status (docs.stripe.com/payments/paymentintents/lifecycle); simulator:
    # requires_action until paid, succeeded once amount_paid >= amount, canceled when voided.
    "stripe": {
        "succeeded": SUCCEEDED,
        "requires_action": frozenset({"awaiting_payment"}),
        "processing": frozenset({"processing"}),
        "canceled": ENDED_UNPAID,
        "requires_payment_method": frozenset({"failed"}),
    },
    # Order payment_status: pending_payment until paid, paid, or canceled/expired when voided.
    "conekta": {
        "paid": SUCCEEDED,
        "pending_payment": frozenset({"awaiting_payment"}),
        "canceled": ENDED_UNPAID,
        "expired": ENDED_UNPAID,
        "declined": frozenset({"failed"}),
    },
    # A registered CLABE: it cannot be voided at STP, so an expired or canceled payment keeps
    # a `registered` (or partly paid) CLABE; only cobro's clock tells them apart.
    "stp": {
        "paid": SUCCEEDED,
        "partially_paid": frozenset({"awaiting_payment"}) | ENDED_UNPAID,
        "registered": frozenset({"awaiting_payment"}) | ENDED_UNPAID,
    },
    # Mercado Pago payment status: pending until paid (exact amount), approved, refunded after
    # a full refund, cancelled when voided or expired (cobro/psp/mercadopago/mapping.py).
    "mercadopago": {
        "approved": SUCCEEDED,
        "refunded": SUCCEEDED,
        "pending": frozenset({"awaiting_payment"}),
        "in_process": frozenset({"processing"}),
        "cancelled": ENDED_UNPAID,
        "rejected": frozenset({"failed"}),
    },
}
# A payment still open is "expected" only while its expiry is far away (an OXXO voucher valid for
# days); one due sooner must be seen expiring within the run.
LONG_OPEN = timedelta(minutes=10)
EXPIRY_SLACK = timedelta(seconds=30)  # workflow time + grace + the final PSP check and void

Category = Literal["lost", "doubled", "wrong", "failed"]
CATEGORIES: tuple[Category, ...] = ("lost", "doubled", "wrong")
