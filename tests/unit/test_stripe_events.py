"""simulator/stripe_events.py: the Event envelope and signed headers Stripe sends, which cobro's
receiver verifies and reads (the simulator, bench, chaos and tests all send through it)."""

import json
import time

import pytest

from cobro.psp.stripe import signature, webhooks
from simulator import stripe_events

SECRET = "whsec_test_events"
INTENT = {
    "id": "pi_123",
    "object": "payment_intent",
    "metadata": {"cobro_payment_id": "pay_1"},
    "status": "succeeded",
    "amount_received": 25_000,
}


def test_the_envelope_has_stripes_event_fields() -> None:
    before = int(time.time())
    event = json.loads(stripe_events.event_body("payment_intent.succeeded", INTENT))
    assert set(event) == {
        "id",
        "object",
        "api_version",
        "created",
        "data",
        "livemode",
        "pending_webhooks",
        "request",
        "type",
    }
    assert event["id"].startswith("evt_") and len(event["id"]) == 28
    assert (event["object"], event["type"]) == ("event", "payment_intent.succeeded")
    assert event["api_version"] == stripe_events.API_VERSION
    assert before <= event["created"] <= int(time.time())
    assert event["data"] == {"object": INTENT}  # no previous_attributes unless given
    assert (event["livemode"], event["pending_webhooks"]) == (False, 1)
    assert event["request"] == {"id": None, "idempotency_key": None}


def test_event_ids_are_unique_unless_given() -> None:
    ids = {json.loads(stripe_events.event_body("x", INTENT))["id"] for _ in range(100)}
    assert len(ids) == 100
    mine = stripe_events.event_body("x", INTENT, event_id="evt_mine")
    assert json.loads(mine)["id"] == "evt_mine"


def test_updated_events_carry_the_previous_attributes() -> None:
    refund = {"id": "re_1", "object": "refund", "status": "succeeded"}
    body = stripe_events.event_body("refund.updated", refund, previous={"status": "pending"})
    data = json.loads(body)["data"]
    assert data == {"object": refund, "previous_attributes": {"status": "pending"}}


def test_the_headers_are_signed_over_the_exact_body_and_cobro_reads_the_event() -> None:
    body = stripe_events.event_body("payment_intent.succeeded", INTENT, event_id="evt_1")
    headers = stripe_events.signed_headers(body, SECRET, timestamp=1_700_000_000)
    assert headers == {
        "Content-Type": "application/json",
        "Stripe-Signature": signature.sign(body, SECRET, 1_700_000_000),
    }
    signature.verify(body, headers["Stripe-Signature"], SECRET, now=1_700_000_000)
    with pytest.raises(signature.SignatureError):
        signature.verify(body + b" ", headers["Stripe-Signature"], SECRET, now=1_700_000_000)

    fresh = {k.lower(): v for k, v in stripe_events.signed_headers(body, SECRET).items()}
    inbound = webhooks.parse(body, fresh, SECRET)
    assert (inbound.event_type, inbound.payment_id_hint) == ("payment_intent.succeeded", "pay_1")
    assert (inbound.event.event_id, inbound.event.amount_received) == ("evt_1", 25_000)
