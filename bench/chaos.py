"""`make chaos`: break the stack in every way SPEC §8 names and check that no payment is lost,
doubled or left in the wrong status.

Each scenario runs on its own fresh stack (tests/stack.py: embedded PostgreSQL and the Temporal
dev server in a temporary folder, then `cobro worker`, `cobro api` and `cobro simulator` as real
processes on free 127.0.0.1 ports), drives N payments through it (a mix of Stripe, Conekta and
STP, OXXO and SPEI; most paid in the simulator, some left to expire, one partly paid) while the
fault happens, waits until every payment settles (or a deadline), and checks every one against
the simulator's ledger (bench/chaos_check.py says what lost, doubled and wrong mean).

    .venv/bin/python -m bench.chaos [--n 20] [--only worker-kill,api-kill] [--keep]

Prints a table and writes bench/results/chaos.json (with the evidence of every finding); the
logs of a scenario that found something are copied to bench/results/chaos-logs/<scenario>/.
"""

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.chaos_check import (
    MIX_STRIPE,
    Delivery,
    Finding,
    Order,
    Report,
    Tally,
    check_merchant_webhooks,
    create_until_ok,
    make_orders,
    pay,
    send_stripe_webhook,
    settle,
    stripe_intent,
    stripe_webhook,
)
from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.devstack import postgres, temporal
from cobro.settings import Settings
from tests.e2e.merchant_receiver import merchant_receiver
from tests.stack import CobroProcesses, Servers, free_port, stop

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---- the stack and the faults ----------------------------------------------------------


class ChaosStack:
    """A fresh stack in `root`, and the faults: kill -9 and restart any process, freeze
    PostgreSQL, stop and start it."""

    def __init__(self, root: Path, overrides: dict[str, str] | None = None) -> None:
        self.root = root
        self.servers = Servers.start(root)
        try:
            self.cobro = CobroProcesses.start(self.servers, overrides)
        except BaseException:
            # CobroProcesses.start leaves the roles it started running when one fails to come
            # up: stop those (our own children, by pid) before the servers.
            for child in psutil.Process().children():
                if "cobro.cli" in " ".join(child.cmdline()):
                    child.kill()
                    child.wait(15)
            self.servers.stop()
            raise
        self.frozen: list[psutil.Process] = []

    @property
    def pgdata(self) -> Path:
        return (self.root / "postgres").resolve()

    def _log(self, name: str) -> Any:
        return (self.root / f"{name}.log").open("ab")

    # cobro's own processes

    def kill(self, role: str) -> None:
        self.cobro.kill(role)

    def start(self, role: str) -> None:
        self.cobro.start_role(role)

    def exited(self) -> dict[str, int]:
        """cobro processes that are not running, with their exit codes."""
        return {
            role: code
            for role, proc in self.cobro.procs.items()
            if (code := proc.poll()) is not None
        }

    # the Temporal dev server: same SQLite file, same port

    def kill_temporal(self) -> None:
        stop(self.servers.processes[1], signal.SIGKILL)

    def start_temporal(self) -> None:
        address = self.servers.temporal_address
        port = int(address.rsplit(":", 1)[1])
        self.servers.processes[1] = subprocess.Popen(
            temporal.server_command(self.root / "temporal.db", port, free_port(), "default"),
            stdout=self._log("temporal"),
            stderr=subprocess.STDOUT,
        )
        temporal.wait_ready(address)

    # PostgreSQL: freeze (SIGSTOP the postmaster and every backend), or stop and start

    def freeze_postgres(self) -> None:
        top = psutil.Process(self.servers.processes[0].pid)
        self.frozen = [top, *top.children(recursive=True)]
        for proc in self.frozen:  # the postmaster first, so it forks no new backend
            proc.send_signal(signal.SIGSTOP)

    def thaw_postgres(self) -> None:
        for proc in reversed(self.frozen):
            try:
                proc.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass
        self.frozen = []

    def stop_postgres(self) -> None:
        """Immediate shutdown (SIGQUIT): every backend dies, clients lose their connections,
        the next start replays the WAL, as after a crash."""
        stop(self.servers.processes[0], signal.SIGQUIT)

    def start_postgres(self) -> None:
        argv, user = postgres.server_command(self.pgdata)
        self.servers.processes[0] = subprocess.Popen(
            argv, user=user, stdout=self._log("postgres"), stderr=subprocess.STDOUT
        )
        postgres.wait_ready(self.pgdata, timeout_s=60)

    def stop_all(self) -> None:
        self.thaw_postgres()
        try:
            self.cobro.stop()
        finally:
            self.servers.stop()


async def new_merchant(database_url: str) -> str:
    engine = make_engine(Settings(database_url=database_url))
    api_key = merchants_repo.new_api_key()
    try:
        async with make_sessionmaker(engine).begin() as session:
            await merchants_repo.create_merchant(session, "chaos", api_key)
    finally:
        await engine.dispose()
    return api_key


# ---- one scenario ----------------------------------------------------------------------


@dataclass
class Ctx:
    name: str
    args: argparse.Namespace
    stack: ChaosStack
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    orders: list[Order]
    tally: Tally = field(default_factory=Tally)
    t0: float = field(default_factory=time.monotonic)
    faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fail_on_5xx: bool = False
    load_s: float = 0.0
    settle_s: float = 0.0
    report: Report | None = None
    creating: dict[int, float] = field(default_factory=dict)  # order index -> create started
    failovers: list[str] = field(default_factory=list)  # payments whose charge moved PSP

    def say(self, message: str) -> None:
        say(f"    [{self.name} {time.monotonic() - self.t0:6.1f} s] {message}")

    def fault(self, message: str) -> None:
        self.faults.append(f"{time.monotonic() - self.t0:.1f} s: {message}")
        self.say(message)

    async def drive(
        self, faults: Callable[["Ctx"], Awaitable[None]] | None = None, spread_s: float = 24
    ) -> None:
        """Create every order (staggered over `spread_s`) and pay it as planned, while
        `faults` runs; then bring back any cobro process that died on its own."""
        n = len(self.orders)
        started = time.monotonic()

        async def one(order: Order) -> None:
            await asyncio.sleep(order.index * spread_s / max(n, 1))
            self.creating[order.index] = time.monotonic()
            try:
                created = await create_until_ok(self.api, order, self.tally)
            finally:
                del self.creating[order.index]
            if created:
                await pay(self.api, self.sim, order)

        async def progress(done: asyncio.Event) -> None:
            while not done.is_set():
                try:
                    await asyncio.wait_for(done.wait(), timeout=5)
                except TimeoutError:
                    created = sum(o.payment is not None for o in self.orders)
                    paid = sum(o.paid_amount > 0 for o in self.orders)
                    self.say(f"load: {created}/{n} created, {paid} paid")

        done = asyncio.Event()
        ticker = asyncio.create_task(progress(done))
        try:
            await asyncio.gather(
                asyncio.gather(*(one(o) for o in self.orders)),
                faults(self) if faults is not None else asyncio.sleep(0),
            )
        finally:
            done.set()
            await ticker
        self.load_s = time.monotonic() - started
        created = sum(o.payment is not None for o in self.orders)
        paid = sum(o.paid_amount > 0 for o in self.orders)
        self.say(f"load done in {self.load_s:.1f} s: {created}/{n} created, {paid} paid")
        await self.revive()

    async def mid_create(self, min_s: float = 0.03, max_wait_s: float = 5) -> None:
        """Wait until some create has been in flight for `min_s` (so a fault hits a payment
        mid-flow: its workflow starting, its charge being created, its projection written)."""
        deadline = time.monotonic() + max_wait_s
        while time.monotonic() < deadline:
            now = time.monotonic()
            if any(now - t >= min_s for t in self.creating.values()):
                return
            await asyncio.sleep(0.01)

    async def revive(self) -> None:
        """What `make run`'s supervisor does: restart a cobro process that exited by itself
        (a finding worth a note: nothing in the scenario killed it)."""
        for role, code in self.stack.exited().items():
            self.notes.append(f"cobro {role} exited by itself (code {code}); restarted")
            self.fault(f"cobro {role} exited by itself with code {code}: restarting it")
            self.stack.start(role)
            if role == "api":
                await self.wait_api()

    async def wait_api(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if (await self.api.get("/healthz", timeout=3)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
        raise TimeoutError(f"the API was not healthy {timeout_s} s after its restart")

    async def settle(self, also_done: Callable[[], Awaitable[bool]] | None = None) -> Report:
        started = time.monotonic()
        self.say(f"waiting for every payment to settle (at most {self.args.settle_s:.0f} s)")
        report = await settle(
            self.api,
            self.sim,
            self.orders,
            self.args.settle_s,
            fresh_stack=True,
            say=self.say,
            also_done=also_done,
        )
        self.settle_s = time.monotonic() - started
        self.say(f"settled in {self.settle_s:.1f} s: {report.summary()}")
        await self.find_failovers()
        return report

    async def find_failovers(self) -> None:
        """Payments that failed over to another PSP: expected only when PSPs fail."""
        gate = asyncio.Semaphore(10)

        async def one(payment_id: str) -> None:
            async with gate:
                got = await self.api.get(f"/v1/payments/{payment_id}/events")
            if got.status_code == 200 and any(e["type"] == "failover" for e in got.json()["data"]):
                self.failovers.append(payment_id)

        ids = [o.payment_id for o in self.orders if o.payment_id is not None]
        await asyncio.gather(*(one(i) for i in ids))
        if self.failovers:
            self.notes.append(f"{len(self.failovers)} payment(s) failed over to another PSP")
            self.say(self.notes[-1])


# ---- the scenarios ---------------------------------------------------------------------


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


async def run_body(scenario: Scenario, args: argparse.Namespace, stack: ChaosStack) -> Ctx:
    api_key = await new_merchant(stack.servers.database_url)
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        httpx.AsyncClient(base_url=stack.cobro.api_url, headers=headers, timeout=60) as api,
        httpx.AsyncClient(base_url=stack.cobro.sim_url, timeout=60) as sim,
    ):
        ctx = Ctx(scenario.name, args, stack, api, sim, scenario.orders(args))
        ctx.say(f"{scenario.title}: {len(ctx.orders)} payments")
        ctx.report = await scenario.run(ctx)
        return ctx


def run_scenario(scenario: Scenario, args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    say(f"==> {scenario.name}: {scenario.title}")
    root = Path(tempfile.mkdtemp(prefix=f"cobro-chaos-{scenario.name}-", dir=args.tmpdir))
    result: dict[str, Any] = {"scenario": scenario.name, "title": scenario.title}
    stack: ChaosStack | None = None
    try:
        stack = ChaosStack(root)
        say(f"    stack up in {time.monotonic() - started:.1f} s ({root})")
        ctx = asyncio.run(run_body(scenario, args, stack))
        report = ctx.report
        assert report is not None
        result.update(report.as_json())
        result.update(
            {
                "api_5xx": ctx.tally.api_5xx,
                "api_5xx_by_kind": dict(ctx.tally.server_errors),
                "transport_errors": dict(ctx.tally.transport_errors),
                "responses": dict(ctx.tally.responses),
                "fail_on_5xx": ctx.fail_on_5xx,
                "faults": ctx.faults,
                "notes": ctx.notes,
                "failovers": ctx.failovers,
                "load_s": round(ctx.load_s, 1),
                "settle_s": round(ctx.settle_s, 1),
                "order_errors": {o.payment_id or o.key: o.errors for o in ctx.orders if o.errors},
            }
        )
        result["ok"] = (
            report.clean
            and not (ctx.fail_on_5xx and ctx.tally.api_5xx)
            and not (report.failures and not scenario.psp_faults)
        )
        result["failed_allowed"] = scenario.psp_faults
    except Exception as exc:
        say(f"    {scenario.name} did not complete: {exc!r}")
        result.update({"ok": False, "error": repr(exc)[:2000]})
    finally:
        if stack is not None:
            stack.stop_all()
        result["time_s"] = round(time.monotonic() - started, 1)
        if not result.get("ok"):
            logs = RESULTS / "chaos-logs" / scenario.name
            shutil.rmtree(logs, ignore_errors=True)
            logs.mkdir(parents=True, exist_ok=True)
            for log in root.glob("*.log"):
                shutil.copy(log, logs / log.name)
            result["logs"] = str(logs.relative_to(ROOT))
        if args.keep:
            say(f"    stack folder kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    say(f"    {scenario.name}: {'ok' if result['ok'] else 'FAILED'} in {result['time_s']} s")
    return result


# ---- report ----------------------------------------------------------------------------


def verdict(r: dict[str, Any]) -> str:
    if "error" in r:
        return "ERROR: " + str(r["error"])[:70]
    reasons = [f"{r[c]} {c}" for c in ("lost", "doubled", "wrong") if r.get(c)]
    if r.get("no_id"):
        reasons.append(f"{len(r['no_id'])} never created")
    if r.get("fail_on_5xx") and r.get("api_5xx"):
        reasons.append(f"{r['api_5xx']} API 5xx")
    if r.get("failed") and not r.get("failed_allowed"):
        reasons.append(f"{r['failed']} failed with healthy PSPs")
    if not reasons and r["ok"]:
        return "ok"
    return "FAILED: " + ", ".join(reasons or ["see chaos.json"])


def table(results: list[dict[str, Any]]) -> str:
    head = (
        f"{'scenario':<18} {'what':<38} {'payments':>8} {'lost':>5} {'doubled':>8} "
        f"{'wrong':>6} {'failed':>7} {'api 5xx':>8} {'time':>8}  result"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        failed = f"{r['failed']}{'*' if r.get('failed_allowed') else ''}" if "failed" in r else "-"
        lines.append(
            f"{r['scenario']:<18} {r['title']:<38} {r.get('payments', '-'):>8} "
            f"{r.get('lost', '-'):>5} {r.get('doubled', '-'):>8} {r.get('wrong', '-'):>6} "
            f"{failed:>7} {r.get('api_5xx', '-'):>8} {r['time_s']:>6.1f} s  {verdict(r)}"
        )
    lines.append(
        "\nlost/doubled/wrong: payments checked against the simulator's ledger "
        "(bench/chaos_check.py); failed: payments that ended `failed` (* allowed: the scenario "
        "breaks the PSPs); api 5xx: answers the merchant got (a failure only in `burst`)."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.chaos", description=__doc__.splitlines()[0])
    names = [s.name for s in SCENARIOS]
    parser.add_argument("--n", type=int, default=20, help="payments per scenario")
    parser.add_argument("--burst", type=int, default=200, help="concurrent requests in `burst`")
    parser.add_argument("--only", default="", help=f"comma-separated, of: {', '.join(names)}")
    parser.add_argument("--kills", type=int, default=3, help="worker kills in `worker-kill`")
    parser.add_argument("--pg-down-s", type=float, default=20, help="PostgreSQL down for")
    parser.add_argument("--endpoint-down-s", type=float, default=20, help="merchant down for")
    parser.add_argument("--settle-s", type=float, default=240, help="deadline to settle")
    parser.add_argument("--out", type=Path, default=RESULTS / "chaos.json")
    parser.add_argument("--tmpdir", type=Path, default=None, help="parent of the stack folders")
    parser.add_argument("--keep", action="store_true", help="keep the stack folders")
    args = parser.parse_args(argv)
    wanted = [n for n in args.only.split(",") if n]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        parser.error(f"unknown scenarios {unknown}; known: {names}")
    chosen = [s for s in SCENARIOS if not wanted or s.name in wanted]

    started = time.monotonic()
    results: list[dict[str, Any]] = []
    out: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "n": args.n,
        "burst": args.burst,
        "machine": {
            "cores": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": sys.version.split()[0],
        },
        "scenarios": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for scenario in chosen:
        results.append(run_scenario(scenario, args))
        out["total_s"] = round(time.monotonic() - started, 1)
        args.out.write_text(json.dumps(out, indent=2, ensure_ascii=False, default=str) + "\n")
    print(table(results))
    shown = args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out
    print(f"\n{len(chosen)} scenarios in {time.monotonic() - started:.0f} s; written to {shown}")
    if not all(r["ok"] for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
