"""The merchant API's other views (api/schemas.py) are read from ORM rows through pydantic
(`from_attributes`) and answer the same JSON as before, byte for byte: the event's `type` from
its `kind`, the endpoint's event types from the row's {"types": [...]}, the endpoint's secret
only when the creation response sets it, and instants as RFC 3339 in UTC with a `Z`."""

import json
from datetime import UTC, datetime

from api.schemas import AttemptOut, EventOut, WebhookEndpointOut
from cobro.db.models import PaymentEvent, WebhookAttempt, WebhookEndpoint

AT = datetime(2026, 11, 26, 18, 4, 5, 123456, tzinfo=UTC)
AT_WHOLE_SECOND = datetime(2026, 11, 26, 18, 4, 5, tzinfo=UTC)


def _event() -> PaymentEvent:
    return PaymentEvent(
        id="pev_1",
        payment_id="pay_1",
        kind="transition",
        from_status="awaiting_payment",
        to_status="succeeded",
        at=AT,
        source="stripe",
        detail=None,
    )


def test_event_json() -> None:
    dumped = json.loads(EventOut.model_validate(_event()).model_dump_json())
    assert list(dumped)[:7] == [
        "id",
        "type",
        "from_status",
        "to_status",
        "at",
        "source",
        "detail",
    ]
    assert dumped["type"] == "transition"
    assert dumped["at"] == "2026-11-26T18:04:05.123456Z"


def test_an_event_still_validates_from_its_own_fields() -> None:
    """FastAPI validates a returned model again (as a dict of its fields)."""
    event = EventOut.model_validate(_event())
    assert EventOut.model_validate(event.model_dump()) == event


def test_webhook_endpoint_json_shows_the_secret_only_when_given() -> None:
    endpoint = WebhookEndpoint(
        id="we_1",
        merchant_id="mer_1",
        url="https://shop.example/hooks",
        events={"types": ["payment.succeeded"]},
        secret_encrypted="sealed",
        status="enabled",
        disabled_reason=None,
        created_at=AT_WHOLE_SECOND,
    )
    out = WebhookEndpointOut.model_validate(endpoint)
    assert out.model_dump_json() == (
        '{"id":"we_1","object":"webhook_endpoint","url":"https://shop.example/hooks",'
        '"events":["payment.succeeded"],"status":"enabled","disabled_reason":null,'
        '"created_at":"2026-11-26T18:04:05Z","secret":null}'
    )
    created = out.model_copy(update={"secret": "whsec_x"})
    assert created.model_dump(mode="json")["secret"] == "whsec_x"
    assert "sealed" not in created.model_dump_json()


def test_attempt_json() -> None:
    attempt = WebhookAttempt(delivery_id="whd_1", at=AT, status_code=200, latency_ms=12, error=None)
    assert AttemptOut.model_validate(attempt).model_dump_json() == (
        '{"at":"2026-11-26T18:04:05.123456Z","status_code":200,"latency_ms":12,"error":null}'
    )
