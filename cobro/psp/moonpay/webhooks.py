"""Verify and parse a MoonPay webhook from its raw body.

The widget's buy webhooks (dev.moonpay.com/api-reference/widget/webhooks/buy):
`transaction_created`, `transaction_updated`, `transaction_failed`, body
`{"type": ..., "data": <buy transaction>, "externalCustomerId": ...}`, signed with
`Moonpay-Signature-V2` (signature.py). Delivery is at least once and unordered; the body has no
event id (mapping.webhook_event_id derives one). The transaction's `externalTransactionId` is
the payment id. Other event types are stored and forwarded as `other`: nothing moves for them.
"""

from datetime import UTC, datetime
from typing import Any

from cobro.domain import money
from cobro.domain.payment import PspEvent
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.moonpay import mapping, signature


def parse(body: bytes, headers: dict[str, str], key: str) -> InboundEvent:
    """Raises signature.SignatureError (-> 401) or MalformedWebhook (-> 400)."""
    signature.verify(body, headers.get(signature.HEADER.lower()), key)
    try:
        event: dict[str, Any] = money.loads(body)  # amounts: Decimal, never float
        event_type = str(event["type"])
        data: dict[str, Any] = event["data"]
        event_id = mapping.webhook_event_id(event_type, data)
        updated = data.get("updatedAt")
        occurred_at = mapping.parse_time(updated) if updated else datetime.now(UTC)
        if event_type in mapping.WEBHOOK_TYPES:
            parsed = mapping.event_from_transaction(data, event_id, occurred_at)
            hint = data.get("externalTransactionId")
        else:
            parsed = PspEvent(
                psp="moonpay",
                event_id=event_id,
                kind="other",
                psp_reference=str(data.get("externalTransactionId") or data.get("id")),
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
