"""Routing: which PSPs a payment may use, in which order, and why none when none."""

import pytest

from cobro.domain.methods import PaymentMethod
from cobro.domain.routing import RoutingError, can_refund, route

OXXO, SPEI = PaymentMethod.OXXO, PaymentMethod.SPEI


def test_defaults_try_stripe_then_conekta() -> None:
    # Then the PSPs registered later: STP (SPEI only), Mercado Pago.
    assert route(OXXO, 25_000, None) == ["stripe", "conekta", "mercadopago"]
    assert route(SPEI, 25_000, None) == ["stripe", "conekta", "stp", "mercadopago"]


def test_a_merchant_route_orders_the_psps() -> None:
    assert route(OXXO, 25_000, None, {"oxxo": ["conekta", "stripe"]}) == ["conekta", "stripe"]
    assert route(SPEI, 25_000, None, {"oxxo": ["conekta"]}) == [
        "stripe",
        "conekta",
        "stp",
        "mercadopago",
    ]


def test_a_pin_uses_only_that_psp() -> None:
    assert route(SPEI, 25_000, "conekta") == ["conekta"]
    with pytest.raises(RoutingError, match="'paypal' is not available"):
        route(SPEI, 25_000, "paypal")


def test_psps_that_cannot_take_the_amount_are_skipped_and_named() -> None:
    # Conekta takes SPEI from 1.00 MXN, Stripe from 10.00 MXN, STP from 1 centavo.
    assert route(SPEI, 500, None) == ["conekta", "stp"]
    assert route(SPEI, 50, None) == ["stp"]
    with pytest.raises(RoutingError, match=r"stripe takes spei between 1000"):
        route(SPEI, 500, "stripe")


def test_disabled_psps_are_never_chosen() -> None:
    assert route(OXXO, 25_000, None, enabled=frozenset({"conekta"})) == ["conekta"]
    with pytest.raises(RoutingError):
        route(OXXO, 25_000, "stripe", enabled=frozenset({"conekta"}))


def test_refundability_per_psp_and_method() -> None:
    assert can_refund("stripe", SPEI)
    assert not can_refund("stripe", OXXO)  # Stripe: OXXO payments cannot be refunded
    assert not can_refund("conekta", SPEI)
    assert can_refund("stp", SPEI)  # a new outbound transfer to the payer's account
    assert not can_refund("paypal", SPEI)
