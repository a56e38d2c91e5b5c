"""The official Mercado Pago SDK (PyPI `mercadopago` 3.6.0) judges the simulated Mercado Pago:
every call cobro's adapter makes, made through `mercadopago.SDK` against the running simulator,
must come back with the status codes and fields the SDK and cobro read.

The SDK has no setting for its base URL (`Config.api_base_url` is fixed to
https://api.mercadopago.com); it takes an `http_client`, so a subclass of its own `HttpClient`
sends the very same requests to the simulator's `/mercadopago` instead.
"""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import mercadopago  # type: ignore[import-untyped]
import pytest
from clabe import validate_clabe
from mercadopago.config import RequestOptions  # type: ignore[import-untyped]
from mercadopago.errors.exceptions import (  # type: ignore[import-untyped]
    MPAuthenticationError,
    MPBadRequestError,
    MPIdempotencyError,
    MPNotFoundError,
)
from mercadopago.http import HttpClient  # type: ignore[import-untyped]

from cobro.domain.expiry import MEXICO_CITY
from cobro.psp.mercadopago import mapping
from cobro.psp.mercadopago.config import SIMULATOR_ACCESS_TOKEN
from tests.stack import CobroProcesses

LIVE = "https://api.mercadopago.com"


class SimulatorHttpClient(HttpClient):  # type: ignore[misc]
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.seen: list[tuple[str, str]] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        assert url.startswith(LIVE), url  # the SDK built MP's real URL
        self.seen.append((method, url.removeprefix(LIVE)))
        return super().request(method, self.base_url + url.removeprefix(LIVE), *args, **kwargs)


def sdk_for(cobro: CobroProcesses, token: str = SIMULATOR_ACCESS_TOKEN) -> tuple[Any, Any]:
    client = SimulatorHttpClient(f"{cobro.sim_url}/mercadopago")
    return mercadopago.SDK(token, http_client=client), client


def keyed(key: str) -> Any:
    return RequestOptions(custom_headers={"x-idempotency-key": key})


def body(method: str, amount: float = 250.0) -> dict[str, Any]:
    expires = datetime.now(UTC).astimezone(MEXICO_CITY) + timedelta(days=3)
    reference = f"pay_{uuid.uuid4().hex[:12]}"
    return {
        "transaction_amount": amount,
        "description": "Order 1042",
        "payment_method_id": method,
        "date_of_expiration": mapping.mp_time(expires),
        "external_reference": reference,
        "payer": {
            "email": "ana@example.mx",
            "first_name": "Ana López",
            "entity_type": "individual",
        },
        "metadata": {"cobro_payment_id": reference},
    }


async def call(fn: Callable[..., Any], *args: Any) -> Any:
    result = await asyncio.to_thread(fn, *args)
    return result


async def test_the_sdk_creates_an_oxxo_ticket_and_replays_its_key(cobro: CobroProcesses) -> None:
    sdk, client = sdk_for(cobro)
    request, key = body("oxxo"), str(uuid.uuid4())
    created = await call(sdk.payment().create, request, keyed(key))
    created.raise_for_status()
    payment = created["response"]
    assert created["status"] == 201 and isinstance(payment["id"], int)
    assert (payment["status"], payment["status_detail"]) == ("pending", "pending_waiting_payment")
    assert payment["payment_type_id"] == "ticket" and payment["transaction_amount"] == 250.0
    details = payment["transaction_details"]
    assert details["external_resource_url"].startswith("https://")
    assert details["payment_method_reference_id"].isdigit()
    instructions, expires_at = mapping.instructions(payment, datetime.now(UTC))
    assert instructions["reference"] == details["payment_method_reference_id"]
    assert expires_at == mapping.parse_time(request["date_of_expiration"])

    replay = await call(sdk.payment().create, request, keyed(key))
    assert (replay["status"], replay["response"]["id"]) == (201, payment["id"])
    other = await call(sdk.payment().create, {**request, "transaction_amount": 1.0}, keyed(key))
    with pytest.raises(MPIdempotencyError):
        other.raise_for_status()
    assert client.seen[0] == ("POST", "/v1/payments")


async def test_the_sdk_creates_reads_searches_and_cancels_a_spei_transfer(
    cobro: CobroProcesses,
) -> None:
    sdk, client = sdk_for(cobro)
    request = body("clabe", 1234.56)
    created = await call(sdk.payment().create, request, keyed(str(uuid.uuid4())))
    payment = created["response"]
    assert created["status"] == 201 and payment["payment_type_id"] == "bank_transfer"
    instructions, _ = mapping.instructions(payment, datetime.now(UTC))
    assert validate_clabe(instructions["clabe"]) and instructions["hosted_instructions_url"]

    got = await call(sdk.payment().get, payment["id"])
    assert got["status"] == 200 and got["response"] == payment
    assert mapping.event_from_payment(got["response"], datetime.now(UTC)).kind == "other"

    search = await call(sdk.payment().search, {"external_reference": request["external_reference"]})
    assert search["status"] == 200 and search["response"]["paging"]["total"] == 1
    assert [p["id"] for p in search["response"]["results"]] == [payment["id"]]
    iterated = list(
        sdk.payment().search_auto_paging_iter({"external_reference": request["external_reference"]})
    )
    assert [p["id"] for p in iterated] == [payment["id"]]

    canceled = await call(sdk.payment().update, payment["id"], {"status": "cancelled"})
    assert canceled["status"] == 200 and canceled["response"]["status"] == "cancelled"
    again = await call(sdk.payment().update, payment["id"], {"status": "cancelled"})
    with pytest.raises(MPBadRequestError):  # only pending / in_process payments cancel
        again.raise_for_status()
    assert ("PUT", f"/v1/payments/{payment['id']}") in client.seen


async def test_the_sdk_refunds_partly_then_fully_and_lists_the_refunds(
    cobro: CobroProcesses, sim: httpx.AsyncClient
) -> None:
    sdk, _ = sdk_for(cobro)
    payment = (await call(sdk.payment().create, body("clabe"), keyed(str(uuid.uuid4()))))[
        "response"
    ]
    not_paid = await call(sdk.refund().create, payment["id"], {"amount": 10.0})
    with pytest.raises(MPBadRequestError):
        not_paid.raise_for_status()
    paid = await sim.post("/_sim/pay", json={"psp_reference": str(payment["id"])})
    assert paid.json()["outcome"] == "paid"
    approved = (await call(sdk.payment().get, payment["id"]))["response"]
    assert (approved["status"], approved["status_detail"]) == ("approved", "accredited")

    key = str(uuid.uuid4())
    partial = await call(sdk.refund().create, payment["id"], {"amount": 100.25}, keyed(key))
    assert partial["status"] == 201
    refund = partial["response"]
    assert (refund["payment_id"], refund["amount"], refund["status"]) == (
        payment["id"],
        100.25,
        "approved",
    )
    assert mapping.refund_result(refund, "re_1").status == "succeeded"
    replay = await call(sdk.refund().create, payment["id"], {"amount": 100.25}, keyed(key))
    assert replay["response"]["id"] == refund["id"]  # the same refund, not a second one
    one = await call(sdk.refund().get, payment["id"], refund["id"])
    assert one["status"] == 200 and one["response"] == refund
    after = (await call(sdk.payment().get, payment["id"]))["response"]
    assert (after["status"], after["status_detail"]) == ("approved", "partially_refunded")

    rest = await call(sdk.refund().create, payment["id"])  # no amount: all that is left
    assert rest["status"] == 201 and rest["response"]["amount"] == 149.75
    listed = await call(sdk.refund().list_all, payment["id"])
    assert listed["status"] == 200 and [r["id"] for r in listed["response"]] == [
        refund["id"],
        rest["response"]["id"],
    ]
    final = (await call(sdk.payment().get, payment["id"]))["response"]
    assert (final["status"], final["transaction_amount_refunded"]) == ("refunded", 250.0)
    too_much = await call(sdk.refund().create, payment["id"], {"amount": 1.0})
    with pytest.raises(MPBadRequestError):
        too_much.raise_for_status()


async def test_the_sdk_reads_mps_errors(cobro: CobroProcesses) -> None:
    sdk, _ = sdk_for(cobro)
    missing = await call(sdk.payment().get, 1)
    with pytest.raises(MPNotFoundError) as not_found:
        missing.raise_for_status()
    assert not_found.value.message and not_found.value.error == "not_found"
    wrong_token, _ = sdk_for(cobro, token="TEST-not-the-token")
    refused = await call(wrong_token.payment().get, 1)
    with pytest.raises(MPAuthenticationError):
        refused.raise_for_status()
    invalid = await call(sdk.payment().create, {**body("oxxo"), "payment_method_id": "visa"})
    with pytest.raises(MPBadRequestError) as bad:
        invalid.raise_for_status()
    assert bad.value.causes and bad.value.causes[0]["description"]
