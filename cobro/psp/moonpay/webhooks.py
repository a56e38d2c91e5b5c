"""Verify and parse a MoonPay webhook from its raw body.

Body (Platform webhooks, documented for `customer.identity_status_updated`):
`{"id": <delivery id>, "type": ..., "timestamp": <ISO 8601>, "data": {...}}`. Transaction events
carry the transaction (`externalTransactionId` = the payment id cobro gave it); identity events
carry the customer (`externalCustomerId` = the payment id, see mapping.event_from_identity).
Other event types are stored and forwarded as `other`: nothing moves for them.
"""

import json
from typing import Any

from cobro.domain.payment import PspEvent
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.moonpay import mapping, signature


def parse(body: bytes, headers: dict[str, str], key: str) -> InboundEvent:
    """Raises signature.SignatureError (-> 401) or MalformedWebhook (-> 400)."""
    signature.verify(body, headers.get(signature.HEADER.lower()), key)
    try:
        event: dict[str, Any] = json.loads(body)
        event_type = str(event["type"])
        data: dict[str, Any] = event["data"]
        occurred_at = mapping.parse_time(event["timestamp"])
        if event_type == mapping.IDENTITY_EVENT:
            parsed = mapping.event_from_identity(data, str(event["id"]), occurred_at)
            hint = data.get("externalCustomerId")
        elif event_type.startswith("transaction"):
            parsed = mapping.event_from_transaction(data, str(event["id"]), occurred_at)
            hint = data.get("externalTransactionId")
        else:
            parsed = PspEvent(
                psp="moonpay",
                event_id=str(event["id"]),
                kind="other",
                psp_reference=str(data.get("id") or event["id"]),
                psp_status=event_type,
                occurred_at=occurred_at,
            )
            hint = None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedWebhook(f"not a MoonPay event: {exc!r}") from exc
    return InboundEvent(
        event=parsed,
        event_type=event_type,
        payment_id_hint=hint if isinstance(hint, str) else None,
    )
