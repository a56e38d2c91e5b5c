"""Every PSP end to end through the simulator, routing per merchant, and failover when a PSP
is down, with exactly one live charge per payment."""

import json
from typing import Any

import httpx
from clabe import validate_clabe
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.e2e.helpers import (
    OXXO_BODY,
    SPEI_BODY,
    charge,
    create,
    events,
    routed_merchant,
    run_cli,
    wait_for_status,
    wait_until,
)
from tests.stack import CobroProcesses


async def test_conekta_oxxo_end_to_end(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    response = await create(api, {**OXXO_BODY, "psp": "conekta"})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["psp"] == "conekta" and payment["psp_reference"].startswith("ord_")
    reference = payment["instructions"]["reference"]
    assert len(reference) == 14 and reference.startswith("93")  # Conekta's OXXO references
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == OXXO_BODY["amount"]
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "psp_webhook")


async def test_conekta_spei_takes_only_the_exact_amount(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**SPEI_BODY, "psp": "conekta"})).json()
    clabe = payment["instructions"]["clabe"]
    assert clabe.startswith("646") and validate_clabe(clabe)  # a one-time CLABE at STP
    short = await sim.post(
        "/_sim/pay", json={"psp_reference": payment["psp_reference"], "amount": 10_000}
    )
    assert short.json()["outcome"] == "returned to the payer"
    assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "awaiting_payment"
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded")

    refund = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={},
        headers={"Idempotency-Key": "conekta-refund"},
    )
    assert refund.status_code == 422 and "conekta cannot refund" in refund.json()["detail"]


async def test_canceling_a_conekta_payment_cancels_the_order(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**OXXO_BODY, "psp": "conekta"})).json()
    canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert (await charge(sim, payment["psp_reference"]))["status"] == "canceled"


async def test_a_merchants_route_picks_its_psp(
    cobro: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    routes = {"oxxo": ["conekta", "stripe"]}
    async with routed_merchant(cobro.api_url, sessions, "Routed", routes) as client:
        oxxo = (await create(client, OXXO_BODY)).json()
        spei = (await create(client, SPEI_BODY)).json()
    assert (oxxo["psp"], spei["psp"]) == ("conekta", "stripe")


async def _charges_for(sim: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    keys = {f"cobro-payment-{payment_id}"}
    return [
        c for c in (await sim.get("/_sim/charges")).json()["data"] if c["idempotency_key"] in keys
    ]


async def test_with_stripe_down_payments_fail_over_to_conekta(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, cobro: CobroProcesses
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    payments = [(await create(api, OXXO_BODY)).json() for _ in range(3)]
    for payment in payments:
        assert payment["status"] == "awaiting_payment", payment
        assert payment["psp"] == "conekta"
        kinds = [(e["type"], e["source"]) for e in await events(api, payment["id"])]
        assert ("failover", "api") in kinds
        charges = await _charges_for(sim, payment["id"])
        assert [(c["psp"], c["status"]) for c in charges] == [("conekta", "pending_payment")]
    await sim.post("/_sim/pay", json={"psp_reference": payments[0]["psp_reference"]})
    await wait_for_status(api, payments[0]["id"], "succeeded")

    # Ops see which PSP is failing, and since when.
    health = [json.loads(line) for line in await run_cli(cobro.env, "ops", "psp-health")]
    stripe = next(h for h in health if h.get("psp") == "stripe")
    assert stripe["failovers"] >= 3 and stripe["failing_since"].endswith("Z")


async def test_a_charge_whose_answer_was_lost_is_voided_after_failover(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    # Stripe creates the charge but every answer is lost: cobro cannot know it exists.
    await sim.put("/_sim/chaos", json={"lose_responses_from": ["stripe"]})
    payment = (await create(api, OXXO_BODY)).json()
    assert payment["psp"] == "conekta" and payment["status"] == "awaiting_payment"
    await sim.put("/_sim/chaos", json={})  # Stripe answers again

    async def only_one_live_charge() -> Any:
        charges = await _charges_for(sim, payment["id"])
        live = [c for c in charges if c["status"] not in ("canceled",)]
        return charges if len(charges) == 2 and len(live) == 1 else None

    charges = await wait_until(
        only_one_live_charge, "the orphan Stripe charge to be voided", timeout_s=60
    )
    by_psp = {c["psp"]: c for c in charges}
    assert by_psp["stripe"]["status"] == "canceled"
    assert by_psp["stripe"]["create_calls"] >= 1
    assert by_psp["conekta"]["status"] == "pending_payment"


async def test_a_cancel_whose_answer_was_lost_is_done_though_stripe_refuses_the_retry(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    """Stripe cancels the intent but the answer is lost; the retried cancel gets Stripe's 400
    `payment_intent_unexpected_state` naming the intent as canceled: cobro's cancel is done."""
    payment = (await create(api, OXXO_BODY)).json()
    assert payment["psp"] == "stripe" and payment["status"] == "awaiting_payment"
    await sim.put("/_sim/chaos", json={"lose_responses_from": ["stripe"]})
    canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
    await sim.put("/_sim/chaos", json={})
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled", canceled.json()
    assert (await charge(sim, payment["psp_reference"]))["status"] == "canceled"
