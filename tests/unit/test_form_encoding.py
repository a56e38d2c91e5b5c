"""Stripe's form encoding: what cobro's Stripe client sends (flatten) and what the simulator reads
back (unflatten). Stripe takes `application/x-www-form-urlencoded` with bracketed keys:
`metadata[order_id]=1042`, `payment_method_types[]=oxxo` (its docs' curl examples) or
`payment_method_types[0]=oxxo` (what the official stripe-python SDK sends)."""

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from cobro.psp.form import flatten, unflatten

OXXO_INTENT: dict[str, Any] = {
    "amount": 25000,
    "currency": "mxn",
    "payment_method_types": ["oxxo"],
    "payment_method_data": {
        "type": "oxxo",
        "billing_details": {"name": "Ana López", "email": "ana@example.mx"},
    },
    "payment_method_options": {"oxxo": {"expires_after_days": 3}},
    "metadata": {"cobro_payment_id": "pay_123", "order_id": "1042"},
    "confirm": True,
    "description": None,
}


def wire(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Through an HTTP body and back, as the simulator receives it."""
    return parse_qsl(urlencode(pairs), keep_blank_values=True)


def test_flatten_a_stripe_payment_intent() -> None:
    assert flatten(OXXO_INTENT) == [
        ("amount", "25000"),
        ("currency", "mxn"),
        ("payment_method_types[]", "oxxo"),
        ("payment_method_data[type]", "oxxo"),
        ("payment_method_data[billing_details][name]", "Ana López"),
        ("payment_method_data[billing_details][email]", "ana@example.mx"),
        ("payment_method_options[oxxo][expires_after_days]", "3"),
        ("metadata[cobro_payment_id]", "pay_123"),
        ("metadata[order_id]", "1042"),
        ("confirm", "true"),
    ]


def test_flattened_body_is_what_stripes_docs_show() -> None:
    body = urlencode(flatten({"payment_method_types": ["oxxo"], "metadata": {"k": "v"}}))
    assert body == "payment_method_types%5B%5D=oxxo&metadata%5Bk%5D=v"


@pytest.mark.parametrize(("value", "sent"), [(True, "true"), (False, "false")])
def test_booleans_are_true_and_false(value: bool, sent: str) -> None:
    assert flatten({"confirm": value, "options": {"capture": value}}) == [
        ("confirm", sent),
        ("options[capture]", sent),
    ]


def test_none_is_left_out_at_any_depth() -> None:
    assert flatten({"a": None, "b": {"c": None, "d": 1}, "e": []}) == [("b[d]", "1")]


def test_list_keeps_its_order_and_repeats_the_key() -> None:
    data = {"expand": ["latest_charge", "customer"], "x": {"types": ["oxxo", "card"]}}
    assert flatten(data) == [
        ("expand[]", "latest_charge"),
        ("expand[]", "customer"),
        ("x[types][]", "oxxo"),
        ("x[types][]", "card"),
    ]


def test_unflatten_nested_dicts_and_lists() -> None:
    pairs = [
        ("amount", "25000"),
        ("payment_method_types[]", "oxxo"),
        ("payment_method_options[oxxo][expires_after_days]", "3"),
        ("metadata[order_id]", "1042"),
        ("metadata[note]", ""),
        ("expand[]", "a"),
        ("expand[]", "b"),
    ]
    assert unflatten(pairs) == {
        "amount": "25000",
        "payment_method_types": ["oxxo"],
        "payment_method_options": {"oxxo": {"expires_after_days": "3"}},
        "metadata": {"order_id": "1042", "note": ""},
        "expand": ["a", "b"],
    }


def test_unflatten_indexed_lists_as_stripe_python_sends_them() -> None:
    pairs = [
        ("payment_method_types[0]", "oxxo"),
        ("expand[0]", "a"),
        ("expand[1]", "b"),
        ("line_items[0][price]", "price_1"),
        ("line_items[0][quantity]", "2"),
        ("line_items[1][price]", "price_2"),
    ]
    assert unflatten(pairs) == {
        "payment_method_types": ["oxxo"],
        "expand": ["a", "b"],
        "line_items": [{"price": "price_1", "quantity": "2"}, {"price": "price_2"}],
    }


def test_roundtrip_through_an_http_body() -> None:
    # Form values are strings on the wire: numbers and booleans come back as text.
    assert unflatten(wire(flatten(OXXO_INTENT))) == {
        "amount": "25000",
        "currency": "mxn",
        "payment_method_types": ["oxxo"],
        "payment_method_data": {
            "type": "oxxo",
            "billing_details": {"name": "Ana López", "email": "ana@example.mx"},
        },
        "payment_method_options": {"oxxo": {"expires_after_days": "3"}},
        "metadata": {"cobro_payment_id": "pay_123", "order_id": "1042"},
        "confirm": "true",
    }


def test_roundtrip_of_string_data_is_exact() -> None:
    data: dict[str, Any] = {
        "a": "1",
        "b": {"c": {"d": "deep"}, "list": ["x", "y", "z"]},
        "spaces & symbols": "a=b&c [d]",
        "tags": ["only"],
    }
    assert unflatten(wire(flatten(data))) == data
