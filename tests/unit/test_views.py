"""Payments and refunds as merchants see them (API and webhooks) are read from ORM rows through
pydantic (`from_attributes`) and answer the same JSON as before, byte for byte: field names and
order, `metadata` from the row's `metadata_`, and instants as RFC 3339 in UTC with a `Z`
(cobro/domain/timestamps.py)."""

import json
from datetime import UTC, datetime, timedelta, timezone

from cobro.db.models import Payment, Refund
from cobro.views import PaymentOut, RefundOut

AT = datetime(2026, 11, 26, 18, 4, 5, 123456, tzinfo=UTC)
AT_WHOLE_SECOND = datetime(2026, 11, 26, 18, 4, 5, tzinfo=UTC)


def _payment() -> Payment:
    return Payment(
        id="pay_1",
        merchant_id="mer_1",
        status="succeeded",
        amount=25_000,
        amount_received=25_000,
        amount_refunded=5_000,
        currency="MXN",
        method="oxxo",
        psp="stripe",
        psp_reference="pi_1",
        psp_customer_reference="cus_1",
        instructions={"reference": "9312"},
        customer={"name": "Ana"},
        description=None,
        metadata_={"order_id": "7"},
        failure_reason=None,
        expires_at=None,
        created_at=AT,
        updated_at=AT_WHOLE_SECOND,
    )


def test_payment_json() -> None:
    out = PaymentOut.model_validate(_payment())
    assert out.model_dump_json() == (
        '{"id":"pay_1","object":"payment","status":"succeeded","amount":25000,'
        '"amount_received":25000,"amount_refunded":5000,"currency":"MXN","method":"oxxo",'
        '"psp":"stripe","psp_reference":"pi_1","instructions":{"reference":"9312"},'
        '"customer":{"name":"Ana"},"description":null,"metadata":{"order_id":"7"},'
        '"created_at":"2026-11-26T18:04:05.123456Z","updated_at":"2026-11-26T18:04:05Z",'
        '"expires_at":null,"failure_reason":null}'
    )
    # The webhook payload (activities/merchant_webhooks.py) dumps the same object.
    assert out.model_dump(mode="json") == json.loads(out.model_dump_json())


def test_an_instant_in_another_zone_is_written_in_utc() -> None:
    payment = _payment()
    payment.expires_at = datetime(2026, 11, 26, 12, 0, tzinfo=timezone(timedelta(hours=-6)))
    dumped = PaymentOut.model_validate(payment).model_dump(mode="json")
    assert dumped["expires_at"] == "2026-11-26T18:00:00Z"


def test_a_view_still_validates_from_its_own_json() -> None:
    """FastAPI validates a returned model again (as a dict of its fields)."""
    out = PaymentOut.model_validate(_payment())
    assert PaymentOut.model_validate(out.model_dump()) == out


def test_refund_json() -> None:
    refund = Refund(
        id="re_1",
        payment_id="pay_1",
        merchant_id="mer_1",
        amount=5_000,
        status="succeeded",
        reason=None,
        origin="merchant",
        psp_reference="re_psp",
        failure_reason=None,
        created_at=AT,
        updated_at=AT,
    )
    assert RefundOut.model_validate(refund).model_dump_json() == (
        '{"id":"re_1","object":"refund","payment_id":"pay_1","amount":5000,'
        '"status":"succeeded","reason":null,"origin":"merchant","failure_reason":null,'
        '"created_at":"2026-11-26T18:04:05.123456Z","updated_at":"2026-11-26T18:04:05.123456Z"}'
    )
