"""The open-loop phase of `make bench`: cobro offered rising rates, each a fraction of the bare
Temporal baseline's max rate measured in the same run, to find the knee: the highest rate at
which create p99 <= 300 ms and webhook ack p99 <= 30 ms still hold.

Open loop: arrivals follow a fixed schedule (one every 1/rate s), each its own task, so a slow
answer never delays the next arrival; create latency runs from the arrival's *scheduled* time,
so time spent behind a busy load generator counts too (no coordinated omission). A payment is
created, paid at the simulator, and its Stripe webhook sent at once (the ack is timed from the
send). Nothing polls: pay_to_succeeded is the `succeeded` event's `at` (what a merchant's
webhook would carry) minus the moment the webhook was sent."""

import asyncio
import math
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from bench.cobro_phase import PAYMENT_BODY
from bench.console import say
from bench.stats import pct, rounded
from bench.stripe_webhooks import stripe_headers, stripe_intent, stripe_webhook

CREATE_P99_MS = 300.0
ACK_P99_MS = 30.0
FRACTIONS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass
class Step:
    fraction: float
    rate_per_s: float
    create_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    settle_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    late_starts: int = 0  # arrivals the load generator began over 50 ms after their time

    @property
    def ok(self) -> bool:
        return (
            not self.errors
            and pct(self.create_ms, 99) <= CREATE_P99_MS
            and pct(self.ack_ms, 99) <= ACK_P99_MS
        )

    def report(self) -> dict[str, Any]:
        return {
            "fraction": self.fraction,
            "rate_per_s": round(self.rate_per_s, 2),
            "payments": len(self.create_ms),
            "create_p50_ms": rounded(pct(self.create_ms, 50)),
            "create_p99_ms": rounded(pct(self.create_ms, 99)),
            "webhook_ack_p50_ms": rounded(pct(self.ack_ms, 50)),
            "webhook_ack_p99_ms": rounded(pct(self.ack_ms, 99)),
            "pay_to_succeeded_p50_ms": rounded(pct(self.settle_ms, 50)),
            "pay_to_succeeded_p99_ms": rounded(pct(self.settle_ms, 99)),
            "errors": len(self.errors),
            "late_starts": self.late_starts,
            "within_targets": self.ok,
        }


async def _one(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, scheduled: float, step: Step
) -> tuple[str, datetime] | None:
    """One arrival; the payment id and when its webhook was sent."""
    if time.perf_counter() - scheduled > 0.05:
        step.late_starts += 1
    created = await api.post(
        "/v1/payments", json=PAYMENT_BODY, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    step.create_ms.append((time.perf_counter() - scheduled) * 1000)
    if created.status_code != 201 or created.json()["status"] != "awaiting_payment":
        step.errors.append(f"create: {created.status_code} {created.text[:200]}")
        return None
    payment = created.json()
    paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    if paid.status_code != 200:
        step.errors.append(f"/_sim/pay: {paid.status_code} {paid.text[:200]}")
        return None
    body = stripe_webhook(await stripe_intent(sim, payment["psp_reference"]))
    sent_at = datetime.now(UTC)
    sent = time.perf_counter()
    ack = await api.post("/webhooks/stripe", content=body, headers=stripe_headers(body))
    step.ack_ms.append((time.perf_counter() - sent) * 1000)
    if ack.status_code != 200:
        step.errors.append(f"webhook: {ack.status_code} {ack.text[:200]}")
        return None
    return payment["id"], sent_at


async def _succeeded_at(api: httpx.AsyncClient, payment_id: str) -> datetime | None:
    got = await api.get(f"/v1/payments/{payment_id}/events")
    got.raise_for_status()
    for event in got.json()["data"]:
        if event["type"] == "transition" and event["to_status"] == "succeeded":
            return datetime.fromisoformat(event["at"].replace("Z", "+00:00"))
    return None


async def run_step(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, fraction: float, rate: float, seconds: float
) -> Step:
    step = Step(fraction, rate)
    arrivals = max(1, round(rate * seconds))
    start = time.perf_counter() + 0.1
    tasks: list[asyncio.Task[tuple[str, datetime] | None]] = []
    for i in range(arrivals):
        scheduled = start + i / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(_one(api, sim, scheduled, step)))
    done = await asyncio.gather(*tasks, return_exceptions=True)
    sent: list[tuple[str, datetime]] = []
    for outcome in done:
        if isinstance(outcome, BaseException):
            step.errors.append(repr(outcome)[:200])
        elif outcome is not None:
            sent.append(outcome)
    await asyncio.sleep(2)  # let the last decisions land before reading them (not timed)
    for payment_id, sent_at in sent:
        decided = await _succeeded_at(api, payment_id)
        if decided is None:
            step.errors.append(f"{payment_id}: not succeeded 2 s after the last webhook")
        else:
            step.settle_ms.append((decided - sent_at).total_seconds() * 1000)
    return step


async def run_open_loop(
    api_url: str,
    sim_url: str,
    api_key: str,
    baseline_per_s: float,
    fractions: tuple[float, ...],
    seconds: float,
) -> tuple[list[dict[str, Any]], float | None]:
    """Each fraction of `baseline_per_s` for `seconds`, lowest first, stopping after two steps
    in a row miss a target; the steps, and the knee (highest fraction within the targets with
    every lower one within them too)."""
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=200)
    steps: list[Step] = []
    async with (
        httpx.AsyncClient(
            base_url=api_url,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=60,
            limits=limits,
        ) as api,
        httpx.AsyncClient(base_url=sim_url, timeout=60, limits=limits) as sim,
    ):
        (await sim.put("/_sim/chaos", json={"drop_rate": 1.0})).raise_for_status()
        try:
            for fraction in fractions:
                rate = fraction * baseline_per_s
                step = await run_step(api, sim, fraction, rate, seconds)
                steps.append(step)
                r = step.report()
                say(
                    f"    open loop {fraction:.2f} x baseline = {rate:.1f}/s: create p99 "
                    f"{r['create_p99_ms']} ms, ack p99 {r['webhook_ack_p99_ms']} ms, "
                    f"{r['errors']} errors: {'within' if step.ok else 'MISSED'}"
                )
                if len(steps) >= 2 and not steps[-1].ok and not steps[-2].ok:
                    break
        finally:
            await sim.put("/_sim/chaos", json={})
    knee: float | None = None
    for step in steps:
        if not step.ok:
            break
        knee = step.fraction
    return [s.report() for s in steps], knee


def parse_fractions(text: str) -> tuple[float, ...]:
    values = tuple(float(v) for v in text.split(",") if v.strip())
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"fractions must be positive numbers: {text!r}")
    return tuple(sorted(values))
