"""The chaos scenarios (SPEC §8): what each one breaks, and when, while its payments go through."""

import argparse
import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bench.chaos_check import Finding, Report
from bench.chaos_context import Ctx
from bench.chaos_merchant_webhooks import Delivery, check_merchant_webhooks
from bench.chaos_orders import MIX_STRIPE, Order, create_until_ok, make_orders, pay
from bench.stripe_webhooks import send_stripe_webhook, stripe_intent, stripe_webhook
from tests.e2e.merchant_receiver import merchant_receiver


async def worker_kill(ctx: Ctx) -> Report:
    async def faults(ctx: Ctx) -> None:
        for i in range(ctx.args.kills):
            await asyncio.sleep(4)
            await ctx.mid_create()
            await asyncio.to_thread(ctx.stack.kill, "worker")
            ctx.fault(f"kill -9 worker ({i + 1}/{ctx.args.kills})")
            await asyncio.sleep(2)
            ctx.stack.start("worker")
            ctx.fault("worker started")

    await ctx.drive(faults)
    return await ctx.settle()


async def api_kill(ctx: Ctx) -> Report:
    async def faults(ctx: Ctx) -> None:
        for i in range(2):
            await asyncio.sleep(5 + 3 * i)
            await ctx.mid_create()
            await asyncio.to_thread(ctx.stack.kill, "api")
            ctx.fault(f"kill -9 api ({i + 1}/2)")
            await asyncio.sleep(3)
            ctx.stack.start("api")
            await ctx.wait_api()
            ctx.fault("api healthy again")

    await ctx.drive(faults)
    return await ctx.settle()


async def temporal_kill(ctx: Ctx) -> Report:
    async def faults(ctx: Ctx) -> None:
        for i in range(2):
            await asyncio.sleep(6 + 4 * i)
            await ctx.mid_create()
            await asyncio.to_thread(ctx.stack.kill_temporal)
            ctx.fault(f"kill -9 temporal dev server ({i + 1}/2)")
            await asyncio.sleep(3)
            await asyncio.to_thread(ctx.stack.start_temporal)
            ctx.fault("temporal dev server healthy again (same db file and port)")

    await ctx.drive(faults)
    return await ctx.settle()


async def postgres_freeze(ctx: Ctx) -> Report:
    async def faults(ctx: Ctx) -> None:
        await asyncio.sleep(6)
        ctx.stack.freeze_postgres()
        ctx.fault(f"SIGSTOP postgres and its {len(ctx.stack.frozen) - 1} backends")
        try:
            await asyncio.sleep(ctx.args.pg_down_s)
        finally:
            ctx.stack.thaw_postgres()
        ctx.fault(f"SIGCONT postgres after {ctx.args.pg_down_s:.0f} s")

    await ctx.drive(faults)
    return await ctx.settle()


async def postgres_restart(ctx: Ctx) -> Report:
    async def faults(ctx: Ctx) -> None:
        await asyncio.sleep(6)
        await asyncio.to_thread(ctx.stack.stop_postgres)
        ctx.fault("postgres stopped (immediate shutdown)")
        await asyncio.sleep(ctx.args.pg_down_s)
        await asyncio.to_thread(ctx.stack.start_postgres)
        ctx.fault(f"postgres started again after {ctx.args.pg_down_s:.0f} s")

    await ctx.drive(faults)
    return await ctx.settle()


async def _chaos(ctx: Ctx, settings: dict[str, Any]) -> None:
    response = await ctx.sim.put("/_sim/chaos", json=settings)
    response.raise_for_status()
    ctx.fault(f"simulator chaos {json.dumps(settings)}")


async def psp_errors(ctx: Ctx) -> Report:
    await _chaos(ctx, {"api_error_rate": 0.3, "api_latency_ms": 500})
    await ctx.drive()
    return await ctx.settle()


async def webhook_chaos(ctx: Ctx) -> Report:
    await _chaos(
        ctx, {"duplicate_rate": 0.5, "reorder": True, "webhook_delay_ms": 300, "drop_rate": 0.2}
    )
    await ctx.drive()
    return await ctx.settle()


async def burst(ctx: Ctx) -> Report:
    """All creates at once, then all webhooks at once: the pools must hold (no 5xx)."""
    ctx.fail_on_5xx = True
    n = len(ctx.orders)
    started = time.monotonic()
    ctx.say(f"{n} concurrent creates")
    await asyncio.gather(*(create_until_ok(ctx.api, o, ctx.tally) for o in ctx.orders))
    ctx.say(
        f"creates done in {time.monotonic() - started:.1f} s "
        f"({ctx.tally.api_5xx} 5xx, {sum(ctx.tally.transport_errors.values())} transport errors)"
    )
    # Only our own webhooks reach the API, so there are exactly n at once.
    await _chaos(ctx, {"drop_rate": 1.0})
    gate = asyncio.Semaphore(20)

    async def pay_one(order: Order) -> bytes | None:
        async with gate:
            await pay(ctx.api, ctx.sim, order)
            if not order.paid_amount or order.payment is None:
                return None
            intent = await stripe_intent(ctx.sim, str(order.payment["psp_reference"]))
            return stripe_webhook(intent)

    bodies = [b for b in await asyncio.gather(*(pay_one(o) for o in ctx.orders)) if b]
    before = ctx.tally.api_5xx
    started = time.monotonic()
    ctx.say(f"{len(bodies)} concurrent Stripe webhooks")
    sent = await asyncio.gather(*(send_stripe_webhook(ctx.api, b, ctx.tally) for b in bodies))
    ctx.say(
        f"webhooks done in {time.monotonic() - started:.1f} s: {sum(sent)} acknowledged, "
        f"{ctx.tally.api_5xx - before} 5xx"
    )
    ctx.load_s = time.monotonic() - ctx.t0
    await ctx.revive()
    return await ctx.settle()


async def merchant_webhooks(ctx: Ctx) -> Report:
    """A merchant endpoint that answers 503 for a while, then 204."""
    async with merchant_receiver() as receiver:
        created = await ctx.api.post(
            "/v1/webhook-endpoints", json={"url": receiver.url, "events": ["*"]}
        )
        created.raise_for_status()
        endpoint = created.json()
        receiver.failing = True
        ctx.fault(f"merchant endpoint {receiver.url} down (503)")

        async def back_up(ctx: Ctx) -> None:
            await asyncio.sleep(ctx.args.endpoint_down_s)
            receiver.failing = False
            ctx.fault(f"merchant endpoint back up after refusing {receiver.refused} deliveries")

        async def webhook_findings() -> list[Finding]:
            payments: dict[str, dict[str, Any]] = {}
            for order in ctx.orders:
                if order.payment_id is not None:
                    got = await ctx.api.get(f"/v1/payments/{order.payment_id}")
                    if got.status_code == 200:
                        payments[order.payment_id] = got.json()
            received = [Delivery(r.body, r.headers) for r in receiver.received]
            return check_merchant_webhooks(received, endpoint["secret"], payments)

        async def all_delivered() -> bool:
            return not await webhook_findings()

        await ctx.drive(back_up)
        report = await ctx.settle(also_done=all_delivered)
        extra = await webhook_findings()
        deliveries = len(receiver.received)
        ctx.notes.append(
            f"merchant endpoint: {receiver.refused} deliveries refused while down, "
            f"{deliveries} received after, {len(extra)} webhook findings"
        )
        ctx.say(ctx.notes[-1])
        report.findings += extra
        return report


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    run: Callable[[Ctx], Awaitable[Report]]
    orders: Callable[[argparse.Namespace], list[Order]] = lambda args: make_orders(args.n)
    # Only a scenario that breaks the PSPs may fail payments: after COBRO_FAILOVER_AFTER_SECONDS
    # (3 s in tests/stack.py) of errors at every PSP a payment may try, it fails by design.
    psp_faults: bool = False


SCENARIOS = [
    Scenario("worker-kill", "kill -9 the worker 3x mid-flow", worker_kill),
    Scenario("api-kill", "kill -9 the API 2x; merchants retry", api_kill),
    Scenario("temporal-kill", "kill -9 Temporal 2x, restart same db", temporal_kill),
    Scenario("postgres-freeze", "SIGSTOP PostgreSQL, then SIGCONT", postgres_freeze),
    Scenario("postgres-restart", "stop PostgreSQL, start it again", postgres_restart),
    Scenario("psp-errors", "30% PSP 5xx/lost answers, 500 ms", psp_errors, psp_faults=True),
    Scenario("webhook-chaos", "dup 50%, reorder, +300 ms, drop 20%", webhook_chaos),
    Scenario(
        "burst",
        "N creates, then N webhooks, at once",
        burst,
        lambda args: make_orders(args.burst, MIX_STRIPE),
    ),
    Scenario("merchant-webhooks", "merchant endpoint down, then back", merchant_webhooks),
]
