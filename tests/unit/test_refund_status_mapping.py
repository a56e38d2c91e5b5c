"""Every refund status each refunding PSP documents maps to a cobro refund status, and a status
nobody mapped raises instead of being guessed (a guess releases or announces money).

The documented lists are written out here, not read from the code, so deleting or changing a
mapping entry fails these tests."""

from typing import Any

import pytest

from cobro.domain.refund_status import UnknownRefundStatus
from cobro.domain.routing import CAPABILITIES
from cobro.psp.inbound import MalformedWebhook
from cobro.psp.stp import mapping as stp_mapping
from cobro.psp.stripe import mapping as stripe_mapping
from cobro.psp.stripe import webhooks
from simulator import stripe_events

# docs.stripe.com/api/refunds/object: `status`.
STRIPE_REFUND_STATUSES = {
    "pending": "pending",
    "requires_action": "pending",  # waits for the customer's bank details: still reserved
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",  # the money never left: it can be refunded again
}
# STP's estados (stpmex.zendesk.com/hc/es/articles/360040200791, as stpmex-python's Estado
# lists them), for a sent order: only liquidada is money gone, the returned / canceled /
# rejected ones are money back, everything else (or not documented for sent orders) waits.
STP_SENT_ORDER_ESTADOS = {
    "C": "pending",
    "PL": "pending",
    "L": "pending",
    "PA": "pending",
    "A": "pending",
    "E": "pending",
    "LQ": "succeeded",
    "CN": "failed",
    "TL": "pending",
    "TC": "pending",
    "TA": "pending",
    "TLQ": "succeeded",
    "TCL": "failed",
    "R": "pending",
    "XD": "pending",
    "D": "failed",
    "CXO": "pending",
    "CCE": "pending",
    "CCO": "pending",
    "CCR": "pending",
    "XC": "pending",
    "CL": "failed",
    "CR": "pending",
    "RL": "failed",
    "CA": "failed",
    "RA": "failed",
    "EA": "pending",
    "RB": "failed",
    "EL": "failed",
    "XR": "pending",
    "RE": "failed",
    "EP": "pending",
    "EC": "pending",
}
SECRET = "whsec_test_refunds"


def _stripe_refund(status: object, **fields: Any) -> dict[str, Any]:
    return {
        "id": "re_123",
        "object": "refund",
        "amount": 5_000,
        "currency": "mxn",
        "status": status,
        "payment_intent": "pi_abc",
        "charge": "ch_abc",
        "metadata": {"cobro_refund_id": "re_cobro1"},
        "failure_reason": None,
        **fields,
    }


def test_the_psps_that_refund_are_exactly_the_mapped_ones() -> None:
    # A PSP that starts offering refunds (Conekta, say) fails here until its statuses are mapped.
    refunding = {psp for psp, capability in CAPABILITIES.items() if capability.refundable}
    # Mercado Pago's statuses: tests/unit/test_mercadopago_mapping.py.
    assert refunding == {"stripe", "stp", "mercadopago"}


@pytest.mark.parametrize(("status", "expected"), sorted(STRIPE_REFUND_STATUSES.items()))
def test_every_documented_stripe_refund_status_maps(status: str, expected: str) -> None:
    result = stripe_mapping.refund_result(_stripe_refund(status, failure_reason="declined"))
    assert result.status == expected
    assert (result.psp_reference, result.refund_id, result.psp_status) == (
        "re_123",
        "re_cobro1",
        status,
    )
    assert (result.failure_reason is not None) == (expected == "failed")


def test_the_stripe_mapping_covers_exactly_the_documented_statuses() -> None:
    assert stripe_mapping.REFUND_STATUSES == STRIPE_REFUND_STATUSES


@pytest.mark.parametrize("status", ["processing", "Succeeded", "", None, 1])
def test_an_unknown_stripe_refund_status_raises(status: object) -> None:
    with pytest.raises(UnknownRefundStatus, match="stripe refund status"):
        stripe_mapping.refund_result(_stripe_refund(status))


@pytest.mark.parametrize(("estado", "expected"), sorted(STP_SENT_ORDER_ESTADOS.items()))
def test_every_stp_estado_maps_for_a_sent_order(estado: str, expected: str) -> None:
    result = stp_mapping.refund_result("RE123", {"estado": estado, "causaDevolucion": 1})
    assert (result.status, result.psp_reference, result.psp_status) == (expected, "RE123", estado)
    if expected == "failed":
        assert result.failure_reason == f"stp order RE123 estado {estado} (causaDevolucion 1)"


def test_the_stp_mapping_covers_exactly_stps_estados() -> None:
    assert stp_mapping.ORDEN_ENVIADA_ESTADOS == STP_SENT_ORDER_ESTADOS


@pytest.mark.parametrize("estado", ["X", "lq", "", None, 3])
def test_an_unknown_stp_estado_raises(estado: object) -> None:
    with pytest.raises(UnknownRefundStatus, match="stp refund status"):
        stp_mapping.refund_result("RE123", {"estado": estado})


def _signed(event_type: str, refund: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = stripe_events.event_body(
        event_type, refund, event_id=f"evt_{event_type}", previous={"status": "pending"}
    )
    headers = stripe_events.signed_headers(body, SECRET)
    return body, {name.lower(): value for name, value in headers.items()}  # as the API reads


@pytest.mark.parametrize(
    ("event_type", "status", "expected"),
    [
        ("refund.updated", "succeeded", "succeeded"),
        ("refund.updated", "canceled", "failed"),
        ("refund.failed", "failed", "failed"),
        ("charge.refund.updated", "failed", "failed"),
        ("refund.created", "pending", "pending"),
    ],
)
def test_stripe_refund_webhooks_become_refund_events_for_the_payment(
    event_type: str, status: str, expected: str
) -> None:
    body, headers = _signed(event_type, _stripe_refund(status, failure_reason="declined"))
    inbound = webhooks.parse(body, headers, SECRET)
    event = inbound.event
    assert (inbound.event_type, event.kind, event.psp_reference) == (event_type, "refund", "pi_abc")
    assert event.refund is not None
    assert (event.refund.refund_id, event.refund.psp_reference, event.refund.status) == (
        "re_cobro1",
        "re_123",
        expected,
    )


def test_a_refund_from_a_customer_balance_is_found_through_the_customer() -> None:
    refund = _stripe_refund("succeeded", payment_intent=None, charge=None, customer="cus_9")
    event = webhooks.parse(*_signed("refund.updated", refund), SECRET).event
    assert event.psp_reference == "cus_9"


def test_a_stripe_refund_webhook_with_an_unknown_status_is_refused() -> None:
    # 400: Stripe retries it, and the event is never read as something it is not.
    with pytest.raises(MalformedWebhook, match="not mapped"):
        webhooks.parse(*_signed("refund.updated", _stripe_refund("processing")), SECRET)
