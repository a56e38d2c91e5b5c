"""Mercado Pago end to end through the simulator: OXXO and SPEI paid, a refund, a cancel, a
failover from Stripe, and MP's signed notifications at cobro's /webhooks/mercadopago."""

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from clabe import validate_clabe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import WebhookInbox
from cobro.domain.business_day import business_day
from cobro.psp.mercadopago import signature
from cobro.psp.mercadopago.config import SIMULATOR_WEBHOOK_SECRET
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

MP = {"psp": "mercadopago"}


async def inbox_rows(
    sessions: async_sessionmaker[AsyncSession], payment_id: str
) -> list[WebhookInbox]:
    async with sessions() as session:
        rows = await session.scalars(
            select(WebhookInbox).where(
                WebhookInbox.psp == "mercadopago", WebhookInbox.payment_id == payment_id
            )
        )
        return list(rows)


async def test_oxxo_through_mercadopago_is_paid(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await create(api, {**OXXO_BODY, **MP})
    assert response.status_code == 201, response.text
    payment = response.json()
    assert payment["psp"] == "mercadopago" and payment["psp_reference"].isdigit()
    instructions = payment["instructions"]
    assert instructions["type"] == "oxxo" and instructions["reference"].isdigit()
    assert instructions["voucher_url"].startswith("https://")
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == OXXO_BODY["amount"]
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "psp_webhook")
    assert "mercadopago approved/accredited" in last["detail"]
    # The notification named the payment only; its event is what GET /v1/payments/{id} said.
    [row] = await inbox_rows(sessions, payment["id"])
    assert row.event_type == "payment.updated" and row.event is not None
    assert (row.event["kind"], row.event["amount_received"]) == ("paid", OXXO_BODY["amount"])
    at_mp = await charge(sim, payment["psp_reference"])
    assert (at_mp["status"], at_mp["amount_paid"]) == ("approved", OXXO_BODY["amount"])


async def test_spei_through_mercadopago_is_paid_then_refunded(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**SPEI_BODY, **MP})).json()
    assert payment["status"] == "awaiting_payment", payment
    clabe = payment["instructions"]["clabe"]
    assert validate_clabe(clabe) and payment["instructions"]["hosted_instructions_url"]
    reference = payment["psp_reference"]
    short = await sim.post("/_sim/pay", json={"psp_reference": reference, "amount": 10_000})
    assert short.json()["outcome"] == "returned to the payer"
    await sim.post("/_sim/pay", json={"psp_reference": reference})
    await wait_for_status(api, payment["id"], "succeeded")

    refund = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 10_000},
        headers={"Idempotency-Key": f"mp-refund-{payment['id']}"},
    )
    assert refund.status_code == 201, refund.text
    assert refund.json()["status"] == "succeeded"
    done = await wait_for_status(api, payment["id"], "partially_refunded")
    assert done["amount_refunded"] == 10_000
    at_mp = await charge(sim, reference)
    assert (at_mp["status"], at_mp["amount_refunded"]) == ("approved", 10_000)

    rest = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={},
        headers={"Idempotency-Key": f"mp-rest-{payment['id']}"},
    )
    assert rest.status_code == 201, rest.text
    done = await wait_for_status(api, payment["id"], "refunded")
    assert done["amount_refunded"] == SPEI_BODY["amount"]
    at_mp = await charge(sim, reference)
    assert (at_mp["status"], at_mp["amount_refunded"]) == ("refunded", SPEI_BODY["amount"])


async def test_canceling_a_mercadopago_payment_cancels_it_at_mp(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**OXXO_BODY, **MP})).json()
    canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert (await charge(sim, payment["psp_reference"]))["status"] == "cancelled"
    paid_late = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    assert paid_late.json()["outcome"] == "returned to the payer"


async def test_with_stripe_down_a_routed_payment_fails_over_to_mercadopago(
    cobro: CobroProcesses, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    routes = {"oxxo": ["stripe", "mercadopago"]}
    async with routed_merchant(cobro.api_url, sessions, "Routed to MP", routes) as api:
        payment = (await create(api, OXXO_BODY)).json()
        assert (payment["status"], payment["psp"]) == ("awaiting_payment", "mercadopago")
        kinds = [(e["type"], e["source"]) for e in await events(api, payment["id"])]
        assert ("failover", "api") in kinds
        charges = (await sim.get("/_sim/charges")).json()["data"]
        mine = [c for c in charges if c["idempotency_key"] == f"cobro-payment-{payment['id']}"]
        assert [(c["psp"], c["status"]) for c in mine] == [("mercadopago", "pending")]
        await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
        await wait_for_status(api, payment["id"], "succeeded")


def _notification(payment_id: str, notice: int) -> bytes:
    return json.dumps(
        {
            "id": notice,
            "live_mode": False,
            "type": "payment",
            "date_created": "2026-12-02T10:00:00.000-06:00",
            "user_id": 1,
            "api_version": "v1",
            "action": "payment.updated",
            "data": {"id": payment_id},
        }
    ).encode()


async def _post(cobro: CobroProcesses, payment_id: str, body: bytes, secret: str) -> httpx.Response:
    request_id = str(uuid.uuid4())
    headers = {
        "Content-Type": "application/json",
        "x-request-id": request_id,
        "x-signature": signature.sign(secret, payment_id, request_id),
    }
    async with httpx.AsyncClient(base_url=cobro.api_url) as client:
        return await client.post(
            f"/webhooks/mercadopago?data.id={payment_id}&type=payment",
            content=body,
            headers=headers,
        )


async def test_a_bad_signature_is_401_and_a_good_one_is_stored_once(
    cobro: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    payment = (await create(api, {**SPEI_BODY, **MP})).json()
    reference = payment["psp_reference"]
    body = _notification(reference, 987_654_321)
    forged = await _post(cobro, reference, body, "not-the-secret")
    assert (
        forged.status_code == 401 and forged.headers["content-type"] == "application/problem+json"
    )
    signed_for_other = await _post(cobro, str(int(reference) + 1), body, SIMULATOR_WEBHOOK_SECRET)
    assert signed_for_other.status_code == 400  # the URL's data.id is not the body's

    first = await _post(cobro, reference, body, SIMULATOR_WEBHOOK_SECRET)
    assert first.status_code == 200 and first.json() == {"received": True}

    async def forwarded() -> list[WebhookInbox] | None:
        rows = await inbox_rows(sessions, payment["id"])
        return rows if rows and all(r.forwarded_at is not None for r in rows) else None

    await wait_until(forwarded, "the notification confirmed and forwarded")
    again = await _post(cobro, reference, body, SIMULATOR_WEBHOOK_SECRET)  # MP redelivers
    assert again.status_code == 200 and again.json() == {"received": True, "duplicate": True}
    [row] = await inbox_rows(sessions, payment["id"])
    assert row.event_id == "mercadopago:notification:987654321" and row.raw_body == body
    # Confirmed from MP's own record: the payment is pending there, so nothing moved.
    assert row.event is not None and row.event["kind"] == "other"
    current = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert current["status"] == "awaiting_payment"


async def _paid(api: httpx.AsyncClient, sim: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    payment = (await create(api, {**body, **MP})).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    return await wait_for_status(api, payment["id"], "succeeded")


async def test_a_day_at_mercadopago_reconciles_against_its_settlement_report(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, cobro: CobroProcesses
) -> None:
    good, short, lost = [await _paid(api, sim, OXXO_BODY) for _ in range(3)]
    refunded = await _paid(api, sim, SPEI_BODY)
    refund = await api.post(
        f"/v1/payments/{refunded['id']}/refunds",
        json={"amount": 5_000},
        headers={"Idempotency-Key": f"mp-recon-{refunded['id']}"},
    )
    assert refund.json()["status"] == "succeeded", refund.text
    ghost = "99999999999"
    for op, reference, amount, line_type in [
        ("set_amount", short["psp_reference"], 24_000, "charge"),
        ("remove", lost["psp_reference"], 0, "charge"),
        ("add", ghost, 7_700, "charge"),
        ("set_amount", refunded["psp_reference"], 4_000, "refund"),
    ]:
        changed = await sim.post(
            "/_sim/mercadopago/report",
            json={"op": op, "reference": reference, "amount": amount, "type": line_type},
        )
        assert changed.is_success, changed.text

    day = business_day(datetime.now(UTC))
    [summary] = await run_cli(cobro.env, "recon", "run", str(day))
    assert "mercadopago" in json.loads(summary)["by_psp"]
    report = (await api.get(f"/v1/reconciliation/{day}")).json()
    lines = {
        (x["line_type"], x["payment_id"]): (x["result"], x["cobro_amount"], x["psp_amount"])
        for x in report["data"]
        if x["psp"] == "mercadopago"
    }
    assert lines == {
        ("charge", good["id"]): ("matched", 25_000, 25_000),
        ("charge", short["id"]): ("amount_mismatch", 25_000, 24_000),
        ("charge", lost["id"]): ("missing_at_psp", 25_000, None),
        ("charge", refunded["id"]): ("matched", 25_000, 25_000),
        ("refund", refunded["id"]): ("amount_mismatch", -5_000, -4_000),
    }
    everything = [json.loads(line) for line in await run_cli(cobro.env, "recon", "show", str(day))]
    assert [
        (g["result"], g["psp_amount"], g["merchant_id"])
        for g in everything
        if g["psp"] == "mercadopago" and g["psp_reference"] == ghost
    ] == [("missing_in_cobro", 7_700, None)]


async def test_a_lost_mercadopago_notification_is_recovered_by_polling(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**OXXO_BODY, **MP})).json()
    await sim.put("/_sim/chaos", json={"drop_rate": 1.0})
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)
    assert done["amount_received"] == OXXO_BODY["amount"]
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "psp_poll")


async def test_duplicated_mercadopago_notifications_apply_once(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await sim.put(
        "/_sim/chaos", json={"duplicate_rate": 1.0, "reorder": True, "webhook_delay_ms": 300}
    )
    payment = (await create(api, {**SPEI_BODY, **MP})).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)

    async def both_copies_in() -> list[WebhookInbox] | None:
        rows = await inbox_rows(sessions, payment["id"])
        return rows if rows and all(r.forwarded_at is not None for r in rows) else None

    await wait_until(both_copies_in, "the notification forwarded")
    await asyncio.sleep(1.5)  # the second copy is sent at most 0.8 s after the first
    rows = await inbox_rows(sessions, payment["id"])
    assert len(rows) == 1  # two copies of one notification: one inbox row
    transitions = [
        e["to_status"] for e in await events(api, payment["id"]) if e["type"] == "transition"
    ]
    assert transitions == ["pending", "awaiting_payment", "succeeded"]


async def _refund_status(api: httpx.AsyncClient, payment_id: str, refund_id: str) -> str:
    refunds = (await api.get(f"/v1/payments/{payment_id}/refunds")).json()["data"]
    status: str = next(r for r in refunds if r["id"] == refund_id)["status"]
    return status


async def test_an_in_process_mercadopago_refund_is_followed_until_mp_settles_it(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await _paid(api, sim, SPEI_BODY)
    plan = {"psp_reference": payment["psp_reference"], "outcomes": ["pending", "rejected"]}
    assert (await sim.post("/_sim/refunds/plan", json=plan)).status_code == 200

    held = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 10_000},
        headers={"Idempotency-Key": f"mp-held-{payment['id']}"},
    )
    assert held.status_code == 201 and held.json()["status"] == "pending", held.text
    refused = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 5_000},
        headers={"Idempotency-Key": f"mp-refused-{payment['id']}"},
    )
    assert refused.status_code == 201 and refused.json()["status"] == "failed", refused.text
    assert "insufficient available balance" in refused.json()["failure_reason"]

    at_mp = [
        r
        for r in (await sim.get("/_sim/refunds")).json()["data"]
        if r["psp_reference"] == payment["psp_reference"]
    ]
    assert [(r["status"], r["amount"]) for r in at_mp] == [("in_process", 10_000)]
    moved = await sim.post(f"/_sim/refunds/{at_mp[0]['id']}", json={"status": "approved"})
    assert moved.status_code == 200, moved.text

    refund_id = held.json()["id"]

    async def settled() -> bool:
        return await _refund_status(api, payment["id"], refund_id) == "succeeded"

    await wait_until(settled, "the refund found approved by polling MP", timeout_s=30)
    done = await wait_for_status(api, payment["id"], "partially_refunded")
    assert done["amount_refunded"] == 10_000
    assert (await charge(sim, payment["psp_reference"]))["amount_refunded"] == 10_000
