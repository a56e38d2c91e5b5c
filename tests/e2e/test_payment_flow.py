"""A payment through every real part: API -> workflow -> simulator (Stripe wire format) ->
signed webhook -> signal -> `succeeded`, seen in the API, PostgreSQL and Temporal visibility."""

import asyncio
import copy
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import httpx
from clabe import validate_clabe
from temporalio.client import Client

from tests.e2e.helpers import OXXO_BODY, create, wait_for_status
from tests.stack import CobroProcesses


async def test_oxxo_payment_succeeds_end_to_end(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, temporal_client: Client
) -> None:
    response = await create(api, OXXO_BODY)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["id"].startswith("pay_")
    assert payment["status"] == "awaiting_payment"
    assert payment["amount"] == 25_000 and payment["amount_received"] == 0
    instructions = payment["instructions"]
    assert instructions["type"] == "oxxo"
    assert instructions["reference"].isdigit()
    assert instructions["voucher_url"].startswith("http")
    # The voucher expires at 23:59 Mexico City time on its last day, returned in UTC.
    expires_at = datetime.fromisoformat(payment["expires_at"])
    assert payment["expires_at"].endswith("Z")
    assert expires_at.astimezone(ZoneInfo("America/Mexico_City")).time() == time(23, 59, 59)
    days_ahead = (expires_at - datetime.now(UTC)).total_seconds() / 86_400
    assert 2 < days_ahead <= 4, f"expires_in of 3 days gave {days_ahead:.2f} days"

    paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    assert paid.status_code == 200, paid.text

    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == 25_000

    events = (await api.get(f"/v1/payments/{payment['id']}/events")).json()["data"]
    assert [(e["from_status"], e["to_status"], e["source"]) for e in events] == [
        (None, "pending", "api"),
        ("pending", "awaiting_payment", "api"),
        ("awaiting_payment", "succeeded", "psp_webhook"),
    ]
    for event in events:
        assert event["at"].endswith("Z"), event
    times = [datetime.fromisoformat(e["at"]) for e in events]
    assert times == sorted(times)

    # Ops find it in the Temporal Web UI by status (visibility is eventually consistent).
    query = f"PaymentStatus = 'succeeded' AND WorkflowId = 'payment-{payment['id']}'"
    for _ in range(50):
        found = [wf.id async for wf in temporal_client.list_workflows(query)]
        if found:
            break
        await asyncio.sleep(0.2)
    assert found == [f"payment-{payment['id']}"]


async def test_spei_payment_gives_a_valid_clabe_and_succeeds(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    body = {**OXXO_BODY, "method": "spei", "amount": 1_250_050}
    payment = (await create(api, body)).json()
    instructions = payment["instructions"]
    assert instructions["type"] == "spei"
    assert len(instructions["clabe"]) == 18 and validate_clabe(instructions["clabe"])
    assert instructions["bank"] and instructions["beneficiary"] and instructions["reference"]
    assert payment["expires_at"].endswith("Z")

    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == 1_250_050


async def test_replaying_an_idempotency_key_returns_the_same_payment_and_charges_once(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    key = "order-1042-attempt"
    first = await create(api, OXXO_BODY, key)
    again = await create(api, OXXO_BODY, key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["instructions"] == first.json()["instructions"]

    charges = (await sim.get("/_sim/charges")).json()["data"]
    mine = [c for c in charges if c["id"] == first.json()["psp_reference"]]
    assert len(mine) == 1 and mine[0]["create_calls"] == 1

    changed = copy.deepcopy(OXXO_BODY)
    changed["amount"] = 30_000
    conflict = await create(api, changed, key)
    assert conflict.status_code == 409
    assert conflict.headers["content-type"] == "application/problem+json"
    assert "Idempotency-Key" in conflict.json()["detail"]


async def test_concurrent_creates_with_one_key_make_one_payment(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    responses = await asyncio.gather(*[create(api, OXXO_BODY, "same-key") for _ in range(5)])
    assert {r.status_code for r in responses} <= {200, 201}
    assert len({r.json()["id"] for r in responses}) == 1
    charges = (await sim.get("/_sim/charges")).json()["data"]
    reference = responses[0].json()["psp_reference"]
    assert [c["create_calls"] for c in charges if c["id"] == reference] == [1]


async def test_payment_survives_a_worker_restart(
    cobro: CobroProcesses, api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    cobro.kill("worker")  # kill -9 while the payment waits for the customer
    paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    assert paid.status_code == 200
    await asyncio.sleep(1)
    still = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert still["status"] == "awaiting_payment"  # nobody runs the workflow right now

    cobro.start_role("worker")
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)
    assert done["amount_received"] == OXXO_BODY["amount"]
