"""Verify and parse a Conekta webhook from its raw body."""

import json
from typing import Any

from cobro.psp.conekta import mapping, signature
from cobro.psp.inbound import InboundEvent, MalformedWebhook


def parse(body: bytes, headers: dict[str, str], public_key_pem: str) -> InboundEvent:
    """Raises signature.SignatureError (-> 401) or MalformedWebhook (-> 400)."""
    signature.verify(body, headers.get("digest"), public_key_pem)
    try:
        event: dict[str, Any] = json.loads(body)
        parsed = mapping.event_from_webhook(event)
        metadata = event["data"]["object"].get("metadata") or {}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedWebhook(f"not a Conekta event: {exc!r}") from exc
    hint = metadata.get("cobro_payment_id")
    return InboundEvent(
        event=parsed,
        event_type=event["type"],
        payment_id_hint=hint if isinstance(hint, str) else None,
    )
