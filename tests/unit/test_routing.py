"""Routing: which PSPs a payment may use, in which order, and why none when none."""

import pytest

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer
from cobro.domain.routing import RoutingError, can_refund, route

OXXO, SPEI = PaymentMethod.OXXO, PaymentMethod.SPEI
# Everything any PSP needs of a customer (Conekta: email and phone).
ANA = Customer(name="Ana López", email="ana@example.mx", phone="5512345678")


def test_defaults_try_stripe_then_conekta() -> None:
    # Then the PSPs registered later: STP (SPEI only), Mercado Pago.
    assert route(OXXO, 25_000, None, customer=ANA) == ["stripe", "conekta", "mercadopago"]
    assert route(SPEI, 25_000, None, customer=ANA) == ["stripe", "conekta", "stp", "mercadopago"]


def test_a_merchant_route_orders_the_psps() -> None:
    assert route(OXXO, 25_000, None, {"oxxo": ["conekta", "stripe"]}, customer=ANA) == [
        "conekta",
        "stripe",
    ]
    assert route(SPEI, 25_000, None, {"oxxo": ["conekta"]}, customer=ANA) == [
        "stripe",
        "conekta",
        "stp",
        "mercadopago",
    ]


def test_a_pin_uses_only_that_psp() -> None:
    assert route(SPEI, 25_000, "conekta", customer=ANA) == ["conekta"]
    with pytest.raises(RoutingError, match="'paypal' is not available"):
        route(SPEI, 25_000, "paypal", customer=ANA)


def test_psps_that_cannot_take_the_amount_are_skipped_and_named() -> None:
    # Conekta takes SPEI from 1.00 MXN, Stripe from 10.00 MXN, STP from 1 centavo.
    assert route(SPEI, 500, None, customer=ANA) == ["conekta", "stp"]
    assert route(SPEI, 50, None, customer=ANA) == ["stp"]
    with pytest.raises(RoutingError, match=r"stripe takes spei between 1000"):
        route(SPEI, 500, "stripe", customer=ANA)


def test_disabled_psps_are_never_chosen() -> None:
    assert route(OXXO, 25_000, None, enabled=frozenset({"conekta"}), customer=ANA) == ["conekta"]
    with pytest.raises(RoutingError):
        route(OXXO, 25_000, "stripe", enabled=frozenset({"conekta"}), customer=ANA)


def test_refundability_per_psp_and_method() -> None:
    assert can_refund("stripe", SPEI)
    assert not can_refund("stripe", OXXO)  # Stripe: OXXO payments cannot be refunded
    assert not can_refund("conekta", SPEI)
    assert can_refund("stp", SPEI)  # a new outbound transfer to the payer's account
    assert not can_refund("paypal", SPEI)


def test_a_psp_that_needs_a_customer_field_the_payment_lacks_is_skipped() -> None:
    """Conekta's orders require customer_info.email and .phone: without them the payment is
    not routed there, so failover never reaches Conekta either."""
    no_phone = ANA.model_copy(update={"phone": None})
    assert route(OXXO, 25_000, None, customer=no_phone) == ["stripe", "mercadopago"]
    assert route(SPEI, 500, None, customer=no_phone) == ["stp"]
    with pytest.raises(RoutingError, match=r"^conekta needs customer.phone$"):
        route(SPEI, 25_000, "conekta", customer=no_phone)
    with pytest.raises(RoutingError, match=r"^conekta needs customer.email, customer.phone$"):
        route(OXXO, 25_000, None, enabled=frozenset({"conekta"}), customer=Customer(name="Ana"))
    merchant = {"oxxo": ["conekta", "stripe"]}
    assert route(OXXO, 25_000, None, merchant, customer=no_phone) == ["stripe"]
    # Mercado Pago's payments name their payer by email.
    no_email = Customer(name="Ana")
    assert route(OXXO, 25_000, None, customer=no_email) == ["stripe"]
    with pytest.raises(RoutingError, match=r"^mercadopago needs customer.email$"):
        route(SPEI, 25_000, "mercadopago", customer=no_email)
