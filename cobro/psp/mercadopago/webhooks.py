"""Verify and read a Mercado Pago notification (Webhooks, topic `payment`).

MP POSTs to `.../webhooks/mercadopago?data.id=<payment id>&type=payment` with a body like
`{"id": 12345, "action": "payment.updated", "type": "payment", "data": {"id": "<payment id>"},
"date_created": ..., "live_mode": ..., "user_id": ..., "api_version": "v1"}`. It says only
WHICH payment changed: the event the workflow may receive is built from MP's own answer to
`GET /v1/payments/{id}` (confirmation.py), so the notification is stored as is and confirmed
by the forwarder, like STP's deposits, retried until MP answers.
"""

import json
from datetime import UTC, datetime
from typing import Any

from cobro.domain.payment import PspEvent
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.mercadopago import signature
from cobro.psp.mercadopago.mapping import PSP


def parse(body: bytes, headers: dict[str, str], query: dict[str, str], secret: str) -> InboundEvent:
    """Raises signature.SignatureError (-> 401) or MalformedWebhook (-> 400). `headers` have
    lowercase names; `query` is the notification URL's query string."""
    data_id = query.get("data.id")
    signature.verify(headers.get("x-signature"), headers.get("x-request-id"), data_id, secret)
    if not data_id:
        raise signature.SignatureError("the URL carries no data.id for x-signature to cover")
    notification = read(body)
    if str(notification["data"]["id"]) != data_id:
        raise MalformedWebhook("the body's data.id is not the signed data.id of the URL")
    topic = str(notification.get("type") or notification.get("topic") or "")
    # The notification's own id tells redeliveries apart from new news about the payment.
    notice = notification.get("id") or headers.get("x-request-id") or data_id
    reference = data_id if topic == "payment" else f"{topic}:{data_id}"
    return InboundEvent(
        event=PspEvent(
            psp=PSP,
            event_id=f"{PSP}:notification:{notice}",
            kind="other",
            psp_reference=reference,
            psp_status=str(notification.get("action") or topic),
            occurred_at=datetime.now(UTC),
        ),
        event_type=str(notification.get("action") or topic),
        payment_id_hint=None,
    )


def read(body: bytes) -> dict[str, Any]:
    try:
        notification = json.loads(body)
        if not isinstance(notification, dict) or not notification["data"]["id"]:
            raise ValueError("no data.id")
    except (ValueError, KeyError, TypeError) as exc:
        raise MalformedWebhook(f"not a Mercado Pago notification: {exc!r}") from exc
    return notification
