"""A flood of one PSP's webhooks does not starve the others' (api/webhook_admission.py).

Against one API process of tests/e2e/api_pair.py (each PSP: 4 events stored at once, 8 more
waiting), 80 senders in another process (tests/e2e/stripe_flood.py) flood `/webhooks/stripe`
with signed events, each sent again after a 503 as Stripe would, while MoonPay's events and
STP's deposit notifications arrive one after another. Each of those is stored within BOUND_S;
Stripe gets 503 with Retry-After for what is over its turns, and every Stripe event the API
acknowledged is in the inbox: none lost once acked."""

import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import WebhookInbox
from cobro.psp.moonpay import signature as moonpay_signature
from cobro.psp.moonpay.config import SIMULATOR_MOONPAY_WEBHOOK_KEY
from tests.e2e.api_pair import api_pair
from tests.e2e.test_stp import abono, post_abono, unregistered_clabe
from tests.stack import CobroProcesses

__all__ = ["api_pair"]  # the fixture, imported for this module's tests

SENDERS = 80
FLOOD_S = 8.0  # new Stripe events for this long (tests/e2e/stripe_flood.py)
OTHERS = 6  # MoonPay events, and as many STP deposits, during the flood
BOUND_S = 1.0  # each of them stored and answered within this, flood or not


def _moonpay_event(run: str, i: int) -> tuple[bytes, dict[str, str]]:
    # A widget buy webhook for a purchase no payment made (its event id is derived from it).
    transaction = {
        "id": f"mp_fair_{run}_{i}",
        "status": "pending",
        "updatedAt": datetime.now(UTC).isoformat(),
        "externalTransactionId": f"pay_fair_{run}_{i}",
    }
    body = json.dumps({"type": "transaction_created", "data": transaction}).encode()
    signed = moonpay_signature.sign(body, SIMULATOR_MOONPAY_WEBHOOK_KEY)
    return body, {"Content-Type": "application/json", moonpay_signature.HEADER: signed}


async def _timed(call: Awaitable[httpx.Response]) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    answer = await call
    return time.monotonic() - started, answer


async def _others(url: str, run: str, offset: int) -> list[float]:
    """MoonPay events and STP deposits, one after another; the time each took to be stored."""
    took = []
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        for i in range(offset, offset + OTHERS):
            body, headers = _moonpay_event(run, i)
            seconds, answer = await _timed(
                client.post("/webhooks/moonpay", content=body, headers=headers)
            )
            assert answer.status_code == 200 and answer.json()["received"], answer.text
            took.append(seconds)
            seconds, answer = await _timed(post_abono(url, abono(unregistered_clabe())))
            assert answer.json() == {"mensaje": "confirmar"}, answer.text
            took.append(seconds)
    return took


async def _stored(sessions: async_sessionmaker[AsyncSession], psp: str, prefix: str) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(WebhookInbox)
            .where(WebhookInbox.psp == psp, WebhookInbox.event_id.like(f"{prefix}%"))
        )
    return int(count or 0)


async def test_a_stripe_flood_leaves_room_for_moonpay_and_stp(
    api_pair: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    url, run = api_pair.api_urls[0], uuid.uuid4().hex[:10]
    quiet = await _others(url, run, 0)  # before the flood, for comparison

    argv = [sys.executable, "-m", "tests.e2e.stripe_flood", url, run, str(SENDERS), str(FLOOD_S)]
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    try:
        flooding = await asyncio.wait_for(process.stdout.readline(), 30)
        assert flooding == b"flooding\n", flooding
        started = time.monotonic()
        during = await _others(url, run, OTHERS)
        overlap = time.monotonic() - started
        assert process.returncode is None, "the flood ended before the others were measured"
        flood = json.loads(await asyncio.wait_for(process.stdout.readline(), 60))
    finally:
        if process.returncode is None:
            await asyncio.wait_for(process.wait(), 60)
    assert process.returncode == 0

    acked, busy, errors = flood["acked"], flood["busy"], flood["errors"]
    print(
        f"Stripe flood from {SENDERS} senders: {len(acked)} events stored, "
        f"{len(busy)} answers 503, {len(errors)} connection errors; {len(during)} MoonPay/STP "
        f"events stored during it in "
        f"max {max(during) * 1000:.0f} ms, median {statistics.median(during) * 1000:.0f} ms "
        f"(without the flood: max {max(quiet) * 1000:.0f} ms) over {overlap:.1f} s"
    )
    assert max(during) <= BOUND_S, during
    assert busy, "the flood never met the cap"
    assert all(
        b
        == {
            "status": 503,
            "content_type": "application/problem+json",
            "retry_after": "5",
            "type": "urn:cobro:problem:webhooks-busy",
        }
        for b in busy
    ), busy[:3]
    assert acked, "Stripe's own events must still get through"
    # Every acknowledged Stripe event is stored (once: the inbox is unique on the event id).
    assert await _stored(sessions, "stripe", f"evt_flood_{run}_") == len(set(acked))
    assert await _stored(sessions, "moonpay", f"transaction_created:mp_fair_{run}_") == 2 * OTHERS
