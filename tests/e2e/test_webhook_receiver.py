"""POST /webhooks/{psp}: verify the raw body, store, dedupe, then signal (SPEC §4)."""

import asyncio
import contextlib
import json
import sys
import time

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import PaymentEvent, WebhookInbox
from cobro.psp.stripe import signature
from cobro.psp.stripe.config import SIMULATOR_STRIPE_WEBHOOK_SECRET
from simulator import stripe_events
from tests.e2e.helpers import OXXO_BODY, create, run_cli, wait_for_status, wait_until
from tests.stack import CobroProcesses, Servers, free_port


def stripe_event(
    intent_id: str,
    event_id: str,
    event_type: str = "payment_intent.succeeded",
) -> bytes:
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 25_000,
        "amount_received": 25_000,
        "metadata": {},
    }
    return stripe_events.event_body(event_type, intent, event_id=event_id)


async def post(
    cobro: CobroProcesses,
    body: bytes,
    header: str | None,
    psp: str = "stripe",
) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Stripe-Signature"] = header
    async with httpx.AsyncClient(base_url=cobro.api_url) as client:
        return await client.post(f"/webhooks/{psp}", content=body, headers=headers)


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]


async def test_an_event_for_an_unknown_reference_is_kept_for_ops(
    cobro: CobroProcesses,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    body = stripe_event("pi_nobody_knows", "evt_unmatched_1")
    response = await post(cobro, body, signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET))
    assert response.status_code == 200
    assert response.json() == {"received": True, "matched": False}
    async with sessions() as session:
        row = await session.scalar(
            select(WebhookInbox).where(WebhookInbox.event_id == "evt_unmatched_1")
        )
    assert row is not None and row.payment_id is None
    assert row.raw_body == body  # byte-exact

    # Ops list it with `cobro ops unmatched`.
    lines = await run_cli(cobro.env, "ops", "unmatched")
    listed = [json.loads(line) for line in lines]
    mine = [e for e in listed if e["event_id"] == "evt_unmatched_1"]
    assert mine == [
        {
            "received_at": mine[0]["received_at"],
            "psp": "stripe",
            "event_id": "evt_unmatched_1",
            "type": "payment_intent.succeeded",
            "psp_reference": "pi_nobody_knows",
            "amount": 25_000,
        }
    ]
    assert mine[0]["received_at"].endswith("Z")


async def test_forged_missing_and_stale_signatures_are_401(cobro: CobroProcesses) -> None:
    body = stripe_event("pi_x", "evt_forged")
    assert_problem(await post(cobro, body, signature.sign(body, "whsec_wrong")), 401)
    assert_problem(await post(cobro, body, None), 401)
    stale = signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET, int(time.time()) - 301)
    assert_problem(await post(cobro, body, stale), 401)
    tampered = body.replace(b"25000", b"99999")
    good_for_original = signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET)
    assert_problem(await post(cobro, tampered, good_for_original), 401)


async def test_unparsable_unknown_psp_and_oversized_bodies(cobro: CobroProcesses) -> None:
    garbage = b"{not json"
    assert_problem(
        await post(cobro, garbage, signature.sign(garbage, SIMULATOR_STRIPE_WEBHOOK_SECRET)), 400
    )
    not_an_event = b'{"hello": "world"}'
    assert_problem(
        await post(
            cobro, not_an_event, signature.sign(not_an_event, SIMULATOR_STRIPE_WEBHOOK_SECRET)
        ),
        400,
    )
    body = stripe_event("pi_x", "evt_unknown_psp")
    assert_problem(await post(cobro, body, "t=1,v1=00", psp="paypal"), 404)
    huge = b"{" + b" " * (256 * 1024) + b"}"
    assert_problem(
        await post(cobro, huge, signature.sign(huge, SIMULATOR_STRIPE_WEBHOOK_SECRET)), 413
    )


async def test_a_redelivered_event_is_acknowledged_and_changes_nothing(
    cobro: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded")

    async def forwarded() -> WebhookInbox | None:  # marked just after the signal
        async with sessions() as session:
            row = await session.scalar(
                select(WebhookInbox).where(
                    WebhookInbox.payment_id == payment["id"],
                    WebhookInbox.event_type == "payment_intent.succeeded",
                )
            )
        return row if row is not None and row.forwarded_at is not None else None

    delivered = await wait_until(forwarded, "the event marked forwarded")
    body = delivered.raw_body  # Stripe retries the very same event
    for _ in range(3):
        again = await post(cobro, body, signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET))
        assert again.status_code == 200 and again.json()["duplicate"] is True

    async with sessions() as session:
        stored = list(
            await session.scalars(
                select(WebhookInbox).where(WebhookInbox.payment_id == payment["id"])
            )
        )
        transitions = list(
            await session.scalars(
                select(PaymentEvent.to_status).where(PaymentEvent.payment_id == payment["id"])
            )
        )
    assert len(stored) == 1
    assert transitions.count("succeeded") == 1


async def test_with_the_database_down_a_webhook_gets_503_so_the_psp_retries(
    servers: Servers, cobro: CobroProcesses
) -> None:
    """A second API whose PostgreSQL is unreachable: nothing can be stored, so nothing is
    acknowledged, and /healthz says which part is down."""
    port = free_port()
    env = {
        **cobro.env,
        "COBRO_API_PORT": str(port),
        "DATABASE_URL": f"postgresql+asyncpg://postgres@/cobro?host={servers.root}/nowhere",
    }
    api = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cobro.cli",
        "api",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    health = await client.get("/healthz")
                    break
                await asyncio.sleep(0.1)
            assert health.status_code == 503
            assert health.json()["database"].startswith("down")
            assert health.json()["temporal"] == "ok"

            body = stripe_event("pi_db_down", "evt_db_down")
            response = await client.post(
                "/webhooks/stripe",
                content=body,
                headers=stripe_events.signed_headers(body, SIMULATOR_STRIPE_WEBHOOK_SECRET),
            )
        assert_problem(response, 503)
    finally:
        api.terminate()
        await api.wait()


async def test_a_webhook_is_acknowledged_once_stored_even_with_temporal_unreachable(
    cobro: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """The ack never waits for Temporal: an API that cannot reach it still stores and answers
    200, and the inbox sweep (here, the main API's) hands the event over later."""
    payment = (await create(api, OXXO_BODY)).json()
    await sim.put("/_sim/chaos", json={"drop_rate": 1.0})  # we deliver the webhook ourselves
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    intent = stripe_event(payment["psp_reference"], "evt_stored_then_swept")

    port = free_port()
    env = {**cobro.env, "COBRO_API_PORT": str(port), "TEMPORAL_ADDRESS": "127.0.0.1:1"}
    cut_off = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cobro.cli",
        "api",
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                with contextlib.suppress(httpx.TransportError):
                    await client.get("/docs")
                    break
                await asyncio.sleep(0.1)
            response = await client.post(
                "/webhooks/stripe",
                content=intent,
                headers=stripe_events.signed_headers(intent, SIMULATOR_STRIPE_WEBHOOK_SECRET),
            )
        assert response.status_code == 200, response.text
    finally:
        cut_off.terminate()
        await cut_off.wait()

    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)
    assert done["amount_received"] == 25_000

    async def swept() -> bool:  # only a forwarder can mark it: the cut-off API could not
        async with sessions() as session:
            row = await session.scalar(
                select(WebhookInbox).where(WebhookInbox.event_id == "evt_stored_then_swept")
            )
        return row is not None and row.forwarded_at is not None

    await wait_until(swept, "the inbox sweep to forward the stored event")
