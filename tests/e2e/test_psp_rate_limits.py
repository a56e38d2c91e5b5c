"""A PSP that rate limits (HTTP 429) is slowed down for, not failed over: with Mercado Pago's
simulated limit far below a burst of creates, every payment still ends there, created exactly
once, and no charge is made at Conekta. Only a PSP that answers nothing but 429 for the time
limit (Stripe here) is given up on."""

import asyncio
import time
import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from tests.e2e.helpers import OXXO_BODY, create, events, routed_merchant
from tests.stack import CobroProcesses

HEADROOM = 4  # calls/s above the shared stack's own traffic at the limited PSP
BURST = 4 * HEADROOM  # creates at once: far over the headroom; their polls fit within it


async def _create_as_a_merchant(
    api: httpx.AsyncClient, body: dict[str, Any] = OXXO_BODY
) -> dict[str, Any]:
    """Create a payment, retrying with the same Idempotency-Key while cobro answers that its
    charge is not confirmed yet (503 payment-not-ready), as the API tells merchants to."""
    key = str(uuid.uuid4())
    for _ in range(10):
        response = await create(api, body, key=key)
        if response.status_code != 503:
            payment: dict[str, Any] = response.json()
            return payment
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))
    raise AssertionError(f"payment {key} never got its charge: {response.json()}")


async def test_a_rate_limiting_psp_is_retried_never_failed_over(
    cobro: CobroProcesses, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Mercado Pago limited below a burst of creates routed [mercadopago, conekta]. Mercado Pago,
    not Stripe: Stripe's calls in the shared stack come mostly from earlier tests' open payments
    polling it, and a limit just above that leaves no room for the burst's own polls after it,
    so creates would be turned away for as long as polls kept the limit busy."""
    # Set the limit HEADROOM calls/s above what the shared stack's open payments ask of Mercado
    # Pago, so that the burst's creates (not those polls) are what it slows down; the burst's
    # own polls (one per payment every 8 s at most) fit within that headroom once it is over.
    await asyncio.sleep(5)
    since = int(time.time()) - 5
    busiest = await sim.get("/_sim/calls_per_second", params={"psp": "mercadopago", "since": since})
    limit = busiest.json()["max_calls_per_s"] + HEADROOM
    limits = await sim.put("/_sim/rate_limits", json={"mercadopago": limit})
    assert limits.status_code == 200 and limits.json()["limits"]["mercadopago"] == limit
    rejected_before = limits.json()["rejected_429"]["mercadopago"]

    routes = {"oxxo": ["mercadopago", "conekta"]}
    async with routed_merchant(cobro.api_url, sessions, "Limited at MP", routes, 60) as api:
        payments = await asyncio.gather(*(_create_as_a_merchant(api) for _ in range(BURST)))

        rejected = (await sim.get("/_sim/rate_limits")).json()["rejected_429"]
        assert rejected["mercadopago"] > rejected_before, rejected  # MP told us to slow down
        charges: list[dict[str, Any]] = (await sim.get("/_sim/charges")).json()["data"]
        for payment in payments:  # each has one charge, at MP, created once: none at Conekta
            # its log says why, should it have left MP (e.g. the failover's detail)
            log = [(e["type"], e["detail"]) for e in await events(api, payment["id"])]
            at_mp = payment["status"] == "awaiting_payment" and payment["psp"] == "mercadopago"
            assert at_mp, (payment, log)
            mine = [c for c in charges if c["idempotency_key"] == f"cobro-payment-{payment['id']}"]
            assert [(c["psp"], c["create_calls"]) for c in mine] == [("mercadopago", 1)], mine
            assert mine[0]["id"] == payment["psp_reference"]
            assert "failover" not in [kind for kind, _ in log], log


async def test_a_psp_that_only_answers_429_is_given_up_on_after_a_time_limit(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, temporal_client: Client
) -> None:
    """Stripe answers every request 429: after COBRO_RATE_LIMITED_FOR_SECONDS (40 s in the test
    stack) of nothing else, a payment routed Stripe then Conekta gets its charge at Conekta,
    and one that may only use Stripe fails, saying why."""
    limits = await sim.put("/_sim/rate_limits", json={"stripe": 0})
    assert limits.status_code == 200 and limits.json()["limits"]["stripe"] == 0

    routed, stripe_only = await asyncio.gather(
        _create_as_a_merchant(api), _create_as_a_merchant(api, {**OXXO_BODY, "psp": "stripe"})
    )

    assert routed["status"] == "awaiting_payment" and routed["psp"] == "conekta", routed
    failovers = [e for e in await events(api, routed["id"]) if e["type"] == "failover"]
    assert any("429" in e["detail"] for e in failovers), failovers
    assert stripe_only["status"] == "failed", stripe_only
    reason = stripe_only["failure_reason"]
    assert "stripe kept answering 429 (rate limited) for 40 s" in reason, reason
    charges: list[dict[str, Any]] = (await sim.get("/_sim/charges")).json()["data"]
    for payment in (routed, stripe_only):  # Stripe made no charge for either
        mine = [c for c in charges if c["idempotency_key"] == f"cobro-payment-{payment['id']}"]
        assert [c["psp"] for c in mine] == (["conekta"] if payment is routed else []), mine
        # ...and cobro knows it: every request was turned away, so it does not go looking for
        # orphan charges at the PSP that is throttling it.
        history = await temporal_client.get_workflow_handle(
            f"payment-{payment['id']}"
        ).fetch_history()
        scheduled = [
            e.activity_task_scheduled_event_attributes.activity_type.name
            for e in history.events
            if e.HasField("activity_task_scheduled_event_attributes")
        ]
        assert "void_orphan_charges" not in scheduled, scheduled
