"""Verify and parse a Stripe webhook from its raw body."""

import json
from typing import Any

from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.stripe import mapping, signature


def parse(body: bytes, headers: dict[str, str], secret: str) -> InboundEvent:
    """Raises signature.SignatureError (-> 401) or MalformedWebhook (-> 400)."""
    signature.verify(body, headers.get("stripe-signature"), secret)
    try:
        event: dict[str, Any] = json.loads(body)
        intent = event["data"]["object"]
        parsed = mapping.event_from_webhook(event)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedWebhook(f"not a Stripe event: {exc!r}") from exc
    hint = (intent.get("metadata") or {}).get("cobro_payment_id")
    return InboundEvent(
        event=parsed,
        event_type=event["type"],
        payment_id_hint=hint if isinstance(hint, str) else None,
    )
