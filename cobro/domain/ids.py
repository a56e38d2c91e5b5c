"""Prefixed random ids, Stripe-style (`pay_...`), safe to show to merchants."""

import secrets


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def workflow_id(payment_id: str) -> str:
    return f"payment-{payment_id}"
