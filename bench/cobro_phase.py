"""The cobro phase of `make bench`: N OXXO payments end to end at concurrency C. Each is created
through the API, paid in the simulator, its Stripe webhook sent (and timed) by the bench itself,
then polled until `succeeded`."""

import asyncio
import math
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from temporalio.client import Client

from bench.console import Progress, step
from bench.merchant import new_merchant
from bench.meters import HISTORY_SAMPLE, Meters, cpu_delta, history_profile
from bench.profiling import start_profilers, stop_profilers
from bench.stats import run_pool
from bench.stripe_webhooks import stripe_headers, stripe_intent, stripe_webhook
from cobro.db.session import make_engine
from cobro.domain.ids import workflow_id
from cobro.settings import Settings
from tests.stack import CobroProcesses

PAYMENT_BODY: dict[str, Any] = {
    "amount": 25_000,
    "currency": "MXN",
    "method": "oxxo",
    "customer": {"name": "Ana López", "email": "ana@example.mx", "phone": "5512345678"},
    "description": "bench",
    "metadata": {"bench": "1"},
}
SUCCEEDED_TIMEOUT_S = 60.0


@dataclass
class PaymentSample:
    payment_id: str
    create_ms: float
    ack_ms: float
    ack_server_ms: float  # of which in the API's handler (its Server-Timing header)
    pay_to_succeeded_ms: float
    webhook_sent_at: datetime  # wall clock, to compare with the event's `at`
    polls: int


@dataclass
class CobroResult:
    payments_per_s: float
    seconds: float
    samples: list[PaymentSample]
    errors: list[str]
    cpu_s: dict[str, float]
    sources: Counter[str] = field(default_factory=Counter)
    webhook_to_decision_ms: list[float] = field(default_factory=list)
    history_events: float = math.nan
    history_types: dict[str, float] = field(default_factory=dict)
    db_bytes: int = 0


def server_ms(response: httpx.Response) -> float:
    """The API's own time for a request (`Server-Timing: app;dur=...`)."""
    timing = response.headers.get("server-timing", "")
    return float(timing.partition("dur=")[2] or "nan")


class CobroDriver:
    def __init__(self, api: httpx.AsyncClient, sim: httpx.AsyncClient, poll_s: float) -> None:
        self.api, self.sim, self.poll_s = api, sim, poll_s

    async def one(self) -> PaymentSample:
        started = time.perf_counter()
        created = await self.api.post(
            "/v1/payments", json=PAYMENT_BODY, headers={"Idempotency-Key": str(uuid.uuid4())}
        )
        create_ms = (time.perf_counter() - started) * 1000
        if created.status_code != 201:
            raise RuntimeError(f"create: {created.status_code} {created.text[:200]}")
        payment = created.json()
        if payment["status"] != "awaiting_payment":
            raise RuntimeError(f"create: status {payment['status']}")
        payment_id, reference = payment["id"], payment["psp_reference"]

        paid = await self.sim.post("/_sim/pay", json={"psp_reference": reference})
        if paid.status_code != 200:
            raise RuntimeError(f"/_sim/pay: {paid.status_code} {paid.text[:200]}")
        body = stripe_webhook(await stripe_intent(self.sim, reference))

        sent_at = datetime.now(UTC)
        sent = time.perf_counter()
        ack = await self.api.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
        ack_ms = (time.perf_counter() - sent) * 1000
        ack_server_ms = server_ms(ack)
        if ack.status_code != 200 or ack.json() != {"received": True}:
            raise RuntimeError(f"webhook: {ack.status_code} {ack.text[:200]}")

        polls = 0
        while True:
            polls += 1
            got = await self.api.get(f"/v1/payments/{payment_id}")
            got.raise_for_status()
            if got.json()["status"] == "succeeded":
                break
            if time.perf_counter() - sent > SUCCEEDED_TIMEOUT_S:
                raise TimeoutError(f"{payment_id} is {got.json()['status']} after the webhook")
            await asyncio.sleep(self.poll_s)
        return PaymentSample(
            payment_id=payment_id,
            create_ms=create_ms,
            ack_ms=ack_ms,
            ack_server_ms=ack_server_ms,
            pay_to_succeeded_ms=(time.perf_counter() - sent) * 1000,
            webhook_sent_at=sent_at,
            polls=polls,
        )


async def db_bytes(settings: Settings) -> int:
    """Bytes of cobro's tables in PostgreSQL, indexes and TOAST included."""
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            size = await conn.scalar(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'm')"
                )
            )
    finally:
        await engine.dispose()
    return int(size or 0)


async def run_cobro(
    cobro: CobroProcesses,
    client: Client,
    settings: Settings,
    meters: Meters,
    n: int,
    concurrency: int,
    warmup: int,
    poll_s: float,
    profile_dir: Path | None,
) -> CobroResult:
    api_key = await new_merchant(settings, "bench")
    limits = httpx.Limits(
        max_connections=4 * concurrency, max_keepalive_connections=4 * concurrency
    )
    async with (
        httpx.AsyncClient(
            base_url=cobro.api_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=60,
            limits=limits,
        ) as api,
        httpx.AsyncClient(base_url=cobro.sim_url, timeout=60, limits=limits) as sim,
    ):
        # The simulator's own webhooks are dropped: this script sends each one, to time it.
        (await sim.put("/_sim/chaos", json={"drop_rate": 1.0})).raise_for_status()
        driver = CobroDriver(api, sim, poll_s)
        samples: list[PaymentSample] = []

        async def warm(_: int) -> None:
            await driver.one()

        async def one(_: int) -> None:
            samples.append(await driver.one())

        if warmup:
            _, warm_errors = await run_pool(warmup, concurrency, warm, None)
            if warm_errors:
                raise RuntimeError(f"warm-up payments failed: {warm_errors[:3]}")
        size_before = await db_bytes(settings)
        profilers = start_profilers(profile_dir, meters) if profile_dir else []
        before = meters.cpu()
        try:
            seconds, errors = await run_pool(n, concurrency, one, Progress("cobro   ", n))
            cpu = cpu_delta(before, meters.cpu())
        finally:
            stop_profilers(profilers)
        size_after = await db_bytes(settings)
        result = CobroResult(
            payments_per_s=len(samples) / seconds,
            seconds=seconds,
            samples=samples,
            errors=errors,
            cpu_s=cpu,
            db_bytes=size_after - size_before,
        )

        with step("reading each payment's events (who completed it: webhook or poll)"):
            for sample in samples:
                got = await api.get(f"/v1/payments/{sample.payment_id}/events")
                got.raise_for_status()
                for event in got.json()["data"]:
                    if event["to_status"] == "succeeded" and event["type"] == "transition":
                        result.sources[event["source"]] += 1
                        decided = datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
                        result.webhook_to_decision_ms.append(
                            (decided - sample.webhook_sent_at).total_seconds() * 1000
                        )
        await sim.put("/_sim/chaos", json={})

    with step(f"fetching {min(len(samples), HISTORY_SAMPLE)} payment workflow histories"):
        ids = [workflow_id(s.payment_id) for s in samples[:HISTORY_SAMPLE]]
        result.history_events, result.history_types = await history_profile(client, ids)
    return result
