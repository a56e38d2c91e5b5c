"""The merchant API's customer (cobro.domain.payment.Customer): a phone as Conekta takes it, a
body without one serialised as before the field existed, and erasure clearing every field."""

import hashlib
import json

import pytest
from pydantic import ValidationError

from api.idempotency import request_hash_of
from api.schemas import CreatePaymentRequest
from cobro.domain.payment import Customer
from cobro.privacy.sealing import ERASED, ERASED_CUSTOMER, is_erased


@pytest.mark.parametrize("phone", ["5512345678", "+525512345678", "+5215512345678"])
def test_mexican_phones_as_conekta_takes_them(phone: str) -> None:
    assert Customer(name="Ana", phone=phone).phone == phone


@pytest.mark.parametrize(
    "phone",
    ["55 1234 5678", "55-1234-5678", "551234567", "55123456789", "+15512345678", "525512345678"],
)
def test_a_malformed_phone_is_refused_saying_what_is_accepted(phone: str) -> None:
    with pytest.raises(ValidationError, match=r"10 digits \(5512345678\) or \+52") as refused:
        Customer(name="Ana", phone=phone)
    assert refused.value.errors()[0]["loc"] == ("phone",)


def test_a_customer_without_a_phone_serialises_as_before_the_field_existed() -> None:
    """So a retried create keeps its Idempotency-Key's request hash across the deploy, and the
    stored row keeps its shape."""
    assert Customer(name="Ana", email="a@x.mx").model_dump(mode="json") == {
        "name": "Ana",
        "email": "a@x.mx",
    }
    body = {"amount": 25_000, "currency": "MXN", "method": "oxxo"}
    body |= {"customer": {"name": "Ana", "email": None}}
    before = {**body, "description": None, "metadata": {}, "expires_in": None, "psp": None}
    before |= {"crypto": None}
    canonical = json.dumps(before, sort_keys=True, separators=(",", ":"))
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert request_hash_of(CreatePaymentRequest.model_validate(body)) == expected
    with_phone = Customer(name="Ana", phone="5512345678").model_dump(mode="json")
    assert with_phone == {"name": "Ana", "email": None, "phone": "5512345678"}


def test_erasure_clears_every_field_of_the_customer() -> None:
    """Derived from the model: a field added to Customer is erased without touching erasure."""
    assert set(ERASED_CUSTOMER) == set(Customer.model_fields)
    assert ERASED_CUSTOMER["name"] == ERASED
    assert all(ERASED_CUSTOMER[f] is None for f in Customer.model_fields if f != "name")
    assert is_erased(ERASED_CUSTOMER)
    assert is_erased({"name": ERASED, "email": None})  # erased before `phone` existed


def test_a_customer_with_any_field_set_is_not_erased() -> None:
    for field in Customer.model_fields:
        if field != "name":
            assert not is_erased({**ERASED_CUSTOMER, field: "5512345678"}), field
    assert not is_erased({"name": "Ana", "email": None})
