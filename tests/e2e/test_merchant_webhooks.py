"""Outgoing merchant webhooks (SPEC §6): signed per Standard Webhooks, in order per payment,
retried while the merchant is down, every attempt logged, replayable."""

import json
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from tests.e2e.helpers import OXXO_BODY, SPEI_BODY, create, wait_for_status, wait_until
from tests.e2e.merchant_receiver import MerchantReceiver, merchant_receiver
from tests.stack import CobroProcesses


async def _register(api: httpx.AsyncClient, url: str, events: list[str]) -> dict[str, Any]:
    response = await api.post("/v1/webhook-endpoints", json={"url": url, "events": events})
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


def _verified(receiver: MerchantReceiver, secret: str) -> list[dict[str, Any]]:
    """Every received event, after checking its Standard Webhooks signature."""
    webhook = Webhook(secret)
    return [webhook.verify(r.body, r.headers) for r in receiver.received]


async def test_registering_endpoints_and_the_secret_shown_once(
    api: httpx.AsyncClient, cobro: CobroProcesses, other_merchant: tuple[str, str]
) -> None:
    endpoint = await _register(api, "https://shop.example.mx/hooks", ["*"])
    assert endpoint["id"].startswith("we_") and endpoint["secret"].startswith("whsec_")
    listed = (await api.get("/v1/webhook-endpoints")).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]]
    assert listed[0]["secret"] is None  # never shown again

    bad_type = await api.post(
        "/v1/webhook-endpoints", json={"url": "https://x.mx", "events": ["payment.paid"]}
    )
    assert bad_type.status_code == 422 and "payment.paid" in bad_type.text
    bad_url = await api.post("/v1/webhook-endpoints", json={"url": "ftp://x", "events": ["*"]})
    assert bad_url.status_code == 422

    headers = {"Authorization": f"Bearer {other_merchant[1]}"}
    async with httpx.AsyncClient(base_url=cobro.api_url, headers=headers) as other:
        assert (await other.get(f"/v1/webhook-endpoints/{endpoint['id']}")).status_code == 404

    deleted = await api.delete(f"/v1/webhook-endpoints/{endpoint['id']}")
    assert deleted.json()["deleted"] is True
    assert (await api.get("/v1/webhook-endpoints")).json()["data"] == []


async def test_a_succeeded_payment_is_announced_signed(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    async with merchant_receiver() as receiver:
        endpoint = await _register(api, receiver.url, ["payment.succeeded"])
        payment = (await create(api, OXXO_BODY)).json()
        await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
        await wait_for_status(api, payment["id"], "succeeded")
        await wait_until(lambda: _async(len(receiver.received) == 1), "the webhook")

    [event] = _verified(receiver, endpoint["secret"])
    assert event["type"] == "payment.succeeded"
    assert event["data"]["object"]["id"] == payment["id"]
    assert event["data"]["object"]["status"] == "succeeded"
    deliveries = (await api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()
    [delivery] = deliveries["data"]
    assert delivery["id"] == receiver.received[0].headers["webhook-id"]
    assert delivery["status"] == "succeeded" and delivery["event_type"] == "payment.succeeded"
    assert [a["status_code"] for a in delivery["attempts"]] == [204]
    assert delivery["attempts"][0]["latency_ms"] >= 0


async def _async(value: bool) -> bool:
    return value


async def test_an_endpoint_that_was_down_gets_every_event_in_order_then_a_replay(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    async with merchant_receiver() as receiver:
        endpoint = await _register(api, receiver.url, ["*"])
        receiver.failing = True  # the merchant's server is down
        payment = (await create(api, SPEI_BODY)).json()
        await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
        await wait_for_status(api, payment["id"], "succeeded")
        url = f"/v1/payments/{payment['id']}/refunds"
        for i, amount in enumerate((5_000, 20_000)):
            refund = await api.post(
                url, json={"amount": amount}, headers={"Idempotency-Key": f"wh-refund-{i}"}
            )
            assert refund.json()["status"] == "succeeded"
        await wait_until(lambda: _async(receiver.refused >= 3), "retries while down")
        receiver.failing = False  # back up
        await wait_until(
            lambda: _async(len(receiver.received) == 3), "all three events", timeout_s=60
        )
        events = _verified(receiver, endpoint["secret"])
        assert [e["type"] for e in events] == [
            "payment.succeeded",
            "refund.succeeded",
            "refund.succeeded",
        ]
        assert [e["data"]["object"]["amount"] for e in events[1:]] == [5_000, 20_000]

        listed = (await api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()
        first = next(d for d in listed["data"] if d["event_type"] == "payment.succeeded")
        codes = [a["status_code"] for a in first["attempts"]]
        assert codes[0] == 503 and codes[-1] == 204 and first["status"] == "succeeded"

        replay = await api.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries/{first['id']}/replay"
        )
        assert replay.status_code == 202
        await wait_until(lambda: _async(len(receiver.received) == 4), "the replay")
        again = receiver.received[-1]
        assert again.headers["webhook-id"] == first["id"]  # same id: merchants can dedupe
        assert json.loads(again.body)["type"] == "payment.succeeded"
