"""Every client mistake gets a precise problem+json 4xx, never a 500 (SPEC §3)."""

import json
from typing import Any

import httpx
import pytest

from tests.e2e.helpers import OXXO_BODY, create, run_cli
from tests.stack import CobroProcesses


def assert_problem(response: httpx.Response, status: int, *detail_words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["type"].startswith("urn:cobro:problem:")
    for word in detail_words:
        assert word in problem["detail"], problem
    return problem


async def test_missing_and_wrong_api_keys_are_401(cobro: CobroProcesses) -> None:
    async with httpx.AsyncClient(base_url=cobro.api_url) as anonymous:
        response = await anonymous.get("/v1/payments/pay_x")
        assert_problem(response, 401, "Authorization")
        assert response.headers["www-authenticate"] == "Bearer"
        wrong = await anonymous.get(
            "/v1/payments/pay_x", headers={"Authorization": "Bearer sk_not_a_key"}
        )
        assert_problem(wrong, 401)


async def test_a_known_key_stays_known_and_others_stay_401(api: httpx.AsyncClient) -> None:
    """A known key keeps working request after request, a wrong one never gets in."""
    for _ in range(2):
        assert_problem(await api.get("/v1/payments/pay_nobody"), 404)
    wrong = await api.get(
        "/v1/payments/pay_nobody", headers={"Authorization": "Bearer sk_test_not_it"}
    )
    assert_problem(wrong, 401)


async def test_every_answer_says_how_long_cobro_took(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/payments/pay_nobody")
    name, _, duration = response.headers["server-timing"].partition(";dur=")
    assert name == "app" and 0 < float(duration) < 10_000


async def test_create_without_idempotency_key_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post("/v1/payments", json=OXXO_BODY)
    assert_problem(response, 400, "Idempotency-Key")


async def test_malformed_json_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/v1/payments",
        content=b'{"amount": 25000,',
        headers={"Idempotency-Key": "k", "Content-Type": "application/json"},
    )
    assert_problem(response, 400)


async def test_an_oxxo_amount_over_the_voucher_maximum_names_the_limit(
    api: httpx.AsyncClient,
) -> None:
    problem = assert_problem(
        await create(api, {**OXXO_BODY, "amount": 1_000_001}), 422, "1000000", "10,000.00 MXN"
    )
    assert problem["errors"][0]["field"] == "body.amount"
    assert_problem(await create(api, {**OXXO_BODY, "amount": 999}), 422, "1000")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": 250.5}, "body.amount"),
        ({"amount": "25000"}, "body.amount"),
        ({"amount": -5}, "body.amount"),
        ({"currency": "USD"}, "body.currency"),
        ({"method": "card"}, "body.method"),
        ({"customer": {}}, "body.customer.name"),
        ({"customer": {"name": "Ana", "phone": "55 1234 5678"}}, "body.customer.phone"),
        ({"customer": {"name": "Ana", "phone": "+15551234567"}}, "body.customer.phone"),
        ({"metadata": {f"k{i}": "v" for i in range(51)}}, "body.metadata"),
        ({"metadata": {"k" * 41: "v"}}, "body.metadata"),
        ({"metadata": {"k": "v" * 501}}, "body.metadata"),
        ({"surprise": True}, "body.surprise"),
    ],
)
async def test_invalid_fields_are_422_with_the_field_named(
    api: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    problem = assert_problem(await create(api, {**OXXO_BODY, **change}), 422)
    assert any(e["field"].startswith(field) for e in problem["errors"]), problem["errors"]


async def test_incomplete_methods_unknown_psps_and_long_expiries_are_422(
    api: httpx.AsyncClient,
) -> None:
    # A crypto payment needs the customer's wallet (the `crypto` object).
    assert_problem(await create(api, {**OXXO_BODY, "method": "crypto"}), 422, "crypto")
    assert_problem(await create(api, {**OXXO_BODY, "psp": "paypal"}), 422, "paypal")
    assert_problem(await create(api, {**OXXO_BODY, "expires_in": 8 * 86_400}), 422, "expire")


async def test_a_malformed_phone_says_which_numbers_are_accepted(api: httpx.AsyncClient) -> None:
    customer = {"name": "Ana", "email": "ana@example.mx", "phone": "(55) 1234-5678"}
    problem = assert_problem(await create(api, {**OXXO_BODY, "customer": customer}), 422)
    [error] = problem["errors"]
    assert error["field"] == "body.customer.phone"
    assert "10 digits (5512345678) or +52 and 10 digits (+525512345678)" in error["message"]


async def test_a_pin_to_conekta_without_the_customers_phone_is_422_saying_so(
    api: httpx.AsyncClient,
) -> None:
    """Conekta's orders require customer_info.phone (and email): cobro does not send it an
    order it must refuse."""
    no_phone = {"name": "Ana López", "email": "ana@example.mx"}
    body = {**OXXO_BODY, "psp": "conekta", "customer": no_phone}
    problem = assert_problem(await create(api, body), 422, "conekta needs customer.phone")
    assert problem["type"].endswith("no-psp-for-payment")
    body["customer"] = {"name": "Ana López", "phone": "5512345678"}
    assert_problem(await create(api, body), 422, "conekta needs customer.email")
    body["customer"] = {**no_phone, "phone": "5512345678"}
    created = await create(api, body)
    assert created.status_code == 201 and created.json()["psp"] == "conekta", created.text
    assert created.json()["customer"] == body["customer"]


async def test_another_merchants_payment_is_404(
    cobro: CobroProcesses, api: httpx.AsyncClient, other_merchant: tuple[str, str]
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    headers = {"Authorization": f"Bearer {other_merchant[1]}"}
    async with httpx.AsyncClient(base_url=cobro.api_url, headers=headers) as other:
        assert_problem(await other.get(f"/v1/payments/{payment['id']}"), 404)
        assert_problem(await other.get(f"/v1/payments/{payment['id']}/events"), 404)
    assert_problem(await api.get("/v1/payments/pay_does_not_exist"), 404, "pay_does_not_exist")


async def test_healthz_reports_database_and_temporal(cobro: CobroProcesses) -> None:
    async with httpx.AsyncClient(base_url=cobro.api_url) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "temporal": "ok"}


async def test_merchant_create_prints_one_json_line_with_a_working_key(
    cobro: CobroProcesses,
) -> None:
    lines = await run_cli(cobro.env, "merchant", "create", "Tacos Doña Mary")
    assert len(lines) == 1, lines
    created = json.loads(lines[0])
    assert created["merchant_id"].startswith("mer_") and created["api_key"].startswith("sk_")
    headers = {"Authorization": f"Bearer {created['api_key']}"}
    async with httpx.AsyncClient(base_url=cobro.api_url, headers=headers) as client:
        response = await create(client, OXXO_BODY)
    assert response.status_code == 201, response.text
