"""Mercado Pago's x-signature: what the simulator signs, cobro verifies and the official SDK's
own validator (mercadopago.webhook.WebhookSignatureValidator, SDK 3.6.0) accepts; what cobro
refuses, the SDK refuses too."""

import json
import time

import pytest
from mercadopago.webhook.validator import (  # type: ignore[import-untyped]
    InvalidWebhookSignatureError,
    WebhookSignatureValidator,
)

from cobro.psp.inbound import MalformedWebhook
from cobro.psp.mercadopago import signature, webhooks
from cobro.psp.mercadopago.signature import SignatureError

SECRET = "mp_whsec_test"
REQUEST_ID = "2066ca19-c6f1-498a-be75-1923005edd06"


def notification(payment_id: str, notice: int = 777) -> bytes:
    return json.dumps(
        {"id": notice, "type": "payment", "action": "payment.updated", "data": {"id": payment_id}}
    ).encode()


def test_the_manifest_is_mps_template() -> None:
    assert signature.manifest("123", REQUEST_ID, "1742505638") == (
        f"id:123;request-id:{REQUEST_ID};ts:1742505638;"
    )
    # Absent parts are left out; alphanumeric ids are lowercased (MP's Orders ids).
    assert signature.manifest(None, None, "1") == "ts:1;"
    assert signature.manifest("ORD01JQ4S4", None, "1") == "id:ord01jq4s4;ts:1;"


def test_what_the_simulator_signs_cobro_and_the_sdk_accept() -> None:
    header = signature.sign(SECRET, "123456", REQUEST_ID)
    signature.verify(header, REQUEST_ID, "123456", SECRET)
    WebhookSignatureValidator.validate(header, REQUEST_ID, "123456", SECRET, tolerance_seconds=300)


@pytest.mark.parametrize(
    ("secret", "data_id", "request_id"),
    [("wrong", "123456", REQUEST_ID), (SECRET, "654321", REQUEST_ID), (SECRET, "123456", "other")],
)
def test_a_signature_over_anything_else_is_refused_by_both(
    secret: str, data_id: str, request_id: str
) -> None:
    forged = signature.sign(secret, data_id, request_id)  # not what this notification says
    with pytest.raises(SignatureError):
        signature.verify(forged, REQUEST_ID, "123456", SECRET)
    with pytest.raises(InvalidWebhookSignatureError):
        WebhookSignatureValidator.validate(forged, REQUEST_ID, "123456", SECRET)


@pytest.mark.parametrize("header", [None, "", "v1=abc", "ts=1", "ts=abc,v1=00", "nonsense"])
def test_missing_or_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(SignatureError):
        signature.verify(header, REQUEST_ID, "1", SECRET)


def test_an_old_signature_counts_unless_a_tolerance_is_asked_for() -> None:
    # A replayed notification only makes cobro ask MP again, and MP's retries may keep their
    # first signature: no tolerance by default.
    old = signature.sign(SECRET, "1", REQUEST_ID, int(time.time()) - 3_600)
    signature.verify(old, REQUEST_ID, "1", SECRET)
    with pytest.raises(SignatureError, match="tolerance"):
        signature.verify(old, REQUEST_ID, "1", SECRET, tolerance_s=300)
    in_ms = signature.sign(SECRET, "1", REQUEST_ID, int(time.time() * 1000))
    signature.verify(in_ms, REQUEST_ID, "1", SECRET, tolerance_s=300)
    stale_ms = signature.sign(SECRET, "1", REQUEST_ID, int(time.time() * 1000) - 301_000)
    with pytest.raises(SignatureError, match="tolerance"):
        signature.verify(stale_ms, REQUEST_ID, "1", SECRET, tolerance_s=300)


def _headers(payment_id: str) -> dict[str, str]:
    return {
        "x-request-id": REQUEST_ID,
        "x-signature": signature.sign(SECRET, payment_id, REQUEST_ID),
    }


def test_a_notification_names_its_payment_and_is_told_apart_by_its_own_id() -> None:
    inbound = webhooks.parse(notification("555"), _headers("555"), {"data.id": "555"}, SECRET)
    assert inbound.event.psp_reference == "555"
    assert inbound.event.event_id == "mercadopago:notification:777"
    assert (inbound.event.kind, inbound.event_type) == ("other", "payment.updated")


def test_the_url_must_carry_the_signed_id_and_the_body_must_agree() -> None:
    with pytest.raises(SignatureError, match=r"data\.id"):
        webhooks.parse(notification("555"), _headers(""), {}, SECRET)
    with pytest.raises(MalformedWebhook):  # signed for 555, body about 556
        webhooks.parse(notification("556"), _headers("555"), {"data.id": "555"}, SECRET)
    with pytest.raises(MalformedWebhook):
        webhooks.parse(b"{not json", _headers("555"), {"data.id": "555"}, SECRET)
