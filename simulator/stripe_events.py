"""Stripe's webhook wire format, in one place: the simulated Stripe sends it, and so do the bench,
the chaos scenarios and the tests when they post a webhook themselves.

An Event (docs.stripe.com/api/events/object; notes/psp-wire.md §1) is `id` (`evt_...`),
`object: "event"`, `api_version`, `created` (Unix seconds), `data.object` (the whole resource)
with `data.previous_attributes` on `*.updated` events, `livemode`, `pending_webhooks`,
`request {id, idempotency_key}` and `type`. Each delivery attempt is signed anew
(`Stripe-Signature: t=<now>,v1=<hex>`) with cobro's own scheme, cobro/psp/stripe/signature.py.
"""

import json
import time
from typing import Any

from cobro.domain.ids import new_id
from cobro.psp.stripe import signature

API_VERSION = "2024-06-20"


def event_body(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    previous: dict[str, Any] | None = None,
) -> bytes:
    """The Event Stripe sends about `obj` (`previous`: `data.previous_attributes`), as the raw
    body it posts: the bytes its signature covers."""
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    event = {
        "id": event_id or new_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},  # null: not caused by an API request
        "type": event_type,
    }
    return json.dumps(event).encode()


def signed_headers(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers of one delivery of `body`, signed now (or at `timestamp`) with `secret`."""
    return {
        "Content-Type": "application/json",
        "Stripe-Signature": signature.sign(body, secret, timestamp),
    }
