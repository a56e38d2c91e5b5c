"""The create-payment schema states exactly the amounts and customers the API accepts: for every
method and PSP pin it documents, its bounds are accepted and one centavo beyond them is refused,
and a customer lacking a field the variant requires is refused, by the same checks the API runs
(the method's limits, then routing)."""

from typing import Any

import pytest
from pydantic import ValidationError

from api.app import create_app
from api.schemas import RefundBody
from cobro.domain.methods import LIMITS, PaymentMethod
from cobro.domain.payment import Customer
from cobro.domain.routing import CAPABILITIES, RoutingError, route
from cobro.settings import Settings


def _schema() -> dict[str, Any]:
    return create_app(Settings()).openapi()


ANYONE = Customer(name="Ana")  # only what the Customer schema itself requires
EVERYTHING = Customer(name="Ana", email="ana@example.mx", phone="5512345678")


def _accepted(
    method: PaymentMethod, amount: int, pin: str | None, customer: Customer = EVERYTHING
) -> bool:
    limits = LIMITS[method]
    if not limits.min_amount <= amount <= limits.max_amount:
        return False
    try:
        route(method, amount, pin, customer=customer)
    except RoutingError:
        return False
    return True


def _required_customer_fields(variant: dict[str, Any]) -> set[str]:
    parts = variant["properties"]["customer"].get("allOf", [])
    return {field for part in parts for field in part.get("required", [])}


def _variants(schemas: dict[str, Any], method: PaymentMethod) -> list[dict[str, Any]]:
    ref = schemas["CreatePaymentRequest"]["discriminator"]["mapping"][method.value]
    found = schemas[ref.rsplit("/", 1)[1]]
    return list(found.get("oneOf", [found]))


def _pins(variant: dict[str, Any]) -> list[str | None]:
    pins: list[str | None] = []
    for option in variant["properties"]["psp"]["anyOf"]:
        pins += option.get("enum", [None])
    return pins


@pytest.mark.parametrize("method", list(LIMITS))
def test_each_documented_pin_takes_exactly_the_documented_amounts(method: PaymentMethod) -> None:
    schemas = _schema()["components"]["schemas"]
    variants = _variants(schemas, method)
    assert variants
    for variant in variants:
        amount = variant["properties"]["amount"]
        low, high = amount["minimum"], amount["maximum"]
        assert variant["properties"]["method"]["const"] == method.value
        required = _required_customer_fields(variant)
        customer = EVERYTHING if required else ANYONE
        for pin in _pins(variant):
            for amount in (low, high):
                assert _accepted(method, amount, pin, customer), (method, pin, amount)
                if required:  # the fields the schema requires are the ones routing needs
                    assert not _accepted(method, amount, pin, ANYONE), (method, pin, amount)
            assert not _accepted(method, low - 1, pin), (method, pin, low - 1)
            assert not _accepted(method, high + 1, pin), (method, pin, high + 1)


def test_every_psp_that_takes_a_method_is_a_documented_pin() -> None:
    schemas = _schema()["components"]["schemas"]
    for method in LIMITS:
        pins = {p for v in _variants(schemas, method) for p in _pins(v)}
        takers = {p for p in CAPABILITIES if _takes(method, p)}
        assert pins - {None} == takers, method
        assert None in pins, method  # unpinned payments route by default


def _takes(method: PaymentMethod, psp: str) -> bool:
    limits = LIMITS[method]
    return any(_accepted(method, a, psp) for a in (limits.min_amount, limits.max_amount))


def test_errors_are_documented_as_problem_json() -> None:
    for path, operations in _schema()["paths"].items():
        for verb, operation in operations.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/healthz":
                    assert list(response["content"]) == ["application/problem+json"], (
                        verb,
                        path,
                        status,
                    )


@pytest.mark.parametrize("body", ['{"amount": 1290}', '{"amount": 1290.0}'])
def test_a_whole_json_number_is_an_integer_amount(body: str) -> None:
    """JSON Schema's `integer` admits 1290.0, so the API does too (schemathesis sent it)."""
    assert RefundBody.model_validate_json(body).amount == 1290


@pytest.mark.parametrize("body", ['{"amount": 1290.5}', '{"amount": "1290"}', '{"amount": true}'])
def test_fractions_strings_and_booleans_are_not_amounts(body: str) -> None:
    with pytest.raises(ValidationError):
        RefundBody.model_validate_json(body)
