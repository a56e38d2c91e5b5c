"""Refunds end to end through the real processes: a refund the PSP leaves pending keeps its
amount reserved until the PSP says how it ended (Stripe's signed refund webhooks, or cobro's
status check when a webhook is lost; STP's outbound order read back with consultaOrden), a
failed, canceled, returned (devuelta) or canceled-at-STP refund frees its amount so it can be
refunded again, and each refund's outcome reaches the merchant as its own event."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from cobro.db.models import WebhookInbox
from cobro.psp.stp.adapter import clave_rastreo_for
from tests.e2e.helpers import SPEI_BODY, charge, create, events, wait_for_status, wait_until
from tests.e2e.merchant_receiver import MerchantReceiver, merchant_receiver
from tests.e2e.test_stp import STP_BODY, consulta_orden, pay


async def _endpoint(api: httpx.AsyncClient, url: str) -> str:
    """Subscribe `url` to every event; its signing secret."""
    response = await api.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})
    assert response.status_code == 201, response.text
    secret: str = response.json()["secret"]
    return secret


async def _paid(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, body: dict[str, Any] = SPEI_BODY
) -> dict[str, Any]:
    payment: dict[str, Any] = (await create(api, body)).json()
    paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    assert paid.status_code == 200, paid.text
    await wait_for_status(api, payment["id"], "succeeded")
    return payment


async def _plan(sim: httpx.AsyncClient, reference: str, *outcomes: str) -> None:
    response = await sim.post(
        "/_sim/refunds/plan", json={"psp_reference": reference, "outcomes": list(outcomes)}
    )
    assert response.status_code == 200, response.text


async def _refund(api: httpx.AsyncClient, payment_id: str, amount: int, key: str) -> httpx.Response:
    return await api.post(
        f"/v1/payments/{payment_id}/refunds",
        json={"amount": amount},
        headers={"Idempotency-Key": f"{key}-{payment_id}"},
    )


async def _refund_ends(
    api: httpx.AsyncClient, payment_id: str, refund_id: str, status: str, timeout_s: float = 30
) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        refunds = (await api.get(f"/v1/payments/{payment_id}/refunds")).json()["data"]
        found = next(r for r in refunds if r["id"] == refund_id)
        return found if found["status"] == status else None

    done: dict[str, Any] = await wait_until(ended, f"refund {refund_id} {status}", timeout_s)
    return done


async def _at_stripe(sim: httpx.AsyncClient, refund_id: str) -> dict[str, Any]:
    refunds = (await sim.get("/_sim/refunds")).json()["data"]
    found: dict[str, Any] = next(r for r in refunds if r["cobro_refund_id"] == refund_id)
    return found


async def _move(sim: httpx.AsyncClient, psp_refund_id: str, status: str, **fields: Any) -> None:
    response = await sim.post(f"/_sim/refunds/{psp_refund_id}", json={"status": status, **fields})
    assert response.status_code == 200, response.text


def _verified(receiver: MerchantReceiver, secret: str) -> list[dict[str, Any]]:
    webhook = Webhook(secret)
    return [webhook.verify(r.body, r.headers) for r in receiver.received]


async def _received(receiver: MerchantReceiver, count: int) -> None:
    async def arrived() -> bool:
        return len(receiver.received) >= count

    await wait_until(arrived, f"{count} merchant webhooks")


async def test_a_pending_stripe_refund_succeeds_when_stripe_says_so(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with merchant_receiver() as receiver:
        secret = await _endpoint(api, receiver.url)
        payment = await _paid(api, sim)
        await _plan(sim, payment["psp_reference"], "pending")
        response = await _refund(api, payment["id"], 10_000, "pending")
        assert response.status_code == 201, response.text
        refund = response.json()
        assert refund["status"] == "pending"
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (current["status"], current["amount_refunded"]) == ("succeeded", 0)
        # Reserved while pending: refunded + pending never exceed what was received.
        greedy = await _refund(api, payment["id"], 15_001, "greedy")
        assert greedy.status_code == 422 and "At most 15000" in greedy.text

        at_stripe = await _at_stripe(sim, refund["id"])
        assert (at_stripe["status"], at_stripe["amount"]) == ("pending", 10_000)
        await _move(sim, at_stripe["id"], "succeeded")
        await _refund_ends(api, payment["id"], refund["id"], "succeeded")
        done = await wait_for_status(api, payment["id"], "partially_refunded")
        assert done["amount_refunded"] == 10_000
        await _received(receiver, 2)

    [succeeded, refunded] = _verified(receiver, secret)
    assert succeeded["type"] == "payment.succeeded"
    assert refunded["type"] == "refund.succeeded"
    assert refunded["data"]["object"]["id"] == refund["id"]
    assert refunded["data"]["object"]["status"] == "succeeded"
    # Stripe's signed refund webhooks reached cobro's inbox for this payment.
    async with sessions() as session:
        types = set(
            await session.scalars(
                select(WebhookInbox.event_type).where(WebhookInbox.payment_id == payment["id"])
            )
        )
    assert {"refund.updated", "charge.refund.updated"} <= types


async def test_a_failed_stripe_refund_frees_its_amount_for_another_refund(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    async with merchant_receiver() as receiver:
        secret = await _endpoint(api, receiver.url)
        payment = await _paid(api, sim)
        await _plan(sim, payment["psp_reference"], "pending")
        first = (await _refund(api, payment["id"], 25_000, "all")).json()
        assert first["status"] == "pending"
        nothing_left = await _refund(api, payment["id"], 1, "one-more")
        assert nothing_left.status_code == 422 and "At most 0" in nothing_left.text

        await _move(sim, (await _at_stripe(sim, first["id"]))["id"], "failed")
        failed = await _refund_ends(api, payment["id"], first["id"], "failed")
        assert failed["failure_reason"] == "stripe refund failed: declined"
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        assert (current["status"], current["amount_refunded"]) == ("succeeded", 0)
        assert (await charge(sim, payment["psp_reference"]))["amount_refunded"] == 0

        again = await _refund(api, payment["id"], 25_000, "again")
        assert again.status_code == 201 and again.json()["status"] == "succeeded"
        done = await wait_for_status(api, payment["id"], "refunded")
        assert done["amount_refunded"] == 25_000
        assert (await charge(sim, payment["psp_reference"]))["amount_refunded"] == 25_000
        await _received(receiver, 3)

    sent = _verified(receiver, secret)
    assert [(e["type"], e["data"]["object"]["id"]) for e in sent[1:]] == [
        ("refund.failed", first["id"]),
        ("refund.succeeded", again.json()["id"]),
    ]


async def test_two_failed_refunds_in_a_row_are_two_merchant_events_each_delivered(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    async with merchant_receiver() as receiver:
        secret = await _endpoint(api, receiver.url)
        payment = await _paid(api, sim)
        await _plan(sim, payment["psp_reference"], "rejected", "rejected")
        refused = []
        for key in ("first", "second"):
            response = await _refund(api, payment["id"], 5_000, key)
            assert response.status_code == 201, response.text
            refused.append(response.json())
        assert [r["status"] for r in refused] == ["failed", "failed"]
        assert "sufficient balance" in (refused[0]["failure_reason"] or "")
        await _received(receiver, 3)

    sent = _verified(receiver, secret)
    failures = [e for e in sent if e["type"] == "refund.failed"]
    assert [e["data"]["object"]["id"] for e in failures] == [r["id"] for r in refused]
    assert len({e["id"] for e in failures}) == 2  # distinct events...
    webhook_ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(set(webhook_ids)) == 3  # ...each delivered on its own
    current = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert (current["status"], current["amount_refunded"]) == ("succeeded", 0)


async def test_a_lost_refund_webhook_is_found_by_checking_stripe(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await _paid(api, sim)
    await _plan(sim, payment["psp_reference"], "requires_action")
    refund = (await _refund(api, payment["id"], 25_000, "lost")).json()
    assert refund["status"] == "pending"
    await sim.put("/_sim/chaos", json={"drop_rate": 1.0})  # Stripe's webhooks never arrive
    await _move(sim, (await _at_stripe(sim, refund["id"]))["id"], "succeeded")

    await _refund_ends(api, payment["id"], refund["id"], "succeeded")
    done = await wait_for_status(api, payment["id"], "refunded")
    assert done["amount_refunded"] == 25_000
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("refunded", "psp_poll")


async def test_stp_refunds_returned_or_canceled_free_their_amount_until_one_settles(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, STP_BODY)).json()
    clabe = payment["psp_reference"]
    await pay(sim, clabe)
    await wait_for_status(api, payment["id"], "succeeded")
    await _plan(sim, clabe, "pending", "pending", "pending")

    ends = [("D", "failed"), ("CN", "failed"), ("LQ", "succeeded")]
    for attempt, (estado, status) in enumerate(ends):
        refund = (await _refund(api, payment["id"], 25_000, f"stp-{attempt}")).json()
        assert refund["status"] == "pending", refund
        blocked = await _refund(api, payment["id"], 1, f"stp-blocked-{attempt}")
        assert blocked.status_code == 422  # the whole amount is on its way
        clave = clave_rastreo_for(refund["id"])
        assert (await consulta_orden(sim, clave, "E"))["estado"] == "E"  # enviada
        await _move(sim, clave, estado)
        ended = await _refund_ends(api, payment["id"], refund["id"], status)
        if status == "failed":
            assert f"estado {estado}" in ended["failure_reason"]
            assert (await charge(sim, clabe))["amount_refunded"] == 0  # the money came back
    done = await wait_for_status(api, payment["id"], "refunded")
    assert (done["amount_received"], done["amount_refunded"]) == (25_000, 25_000)
    assert (await charge(sim, clabe))["amount_refunded"] == 25_000
