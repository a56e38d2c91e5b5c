"""`make bench-scale`: many open payments waiting on their timers, then a full restart.

1. A fresh stack (as `make chaos` starts it), with production polling (a PSP status check an
   hour after the last news, not every 4 s), so open payments only wait on their timers.
2. Creates N SPEI payments through the API at concurrency C. The first ones get a day to be
   paid; the rest alternate between "paid later" and "let expire", the expiring ones all at
   one moment chosen (from the creation rate measured on the first ones) to fall after the
   restart: a herd of expiry timers, as when many vouchers expire at the same midnight.
3. Measures the creation rate, the worker's RSS, and the growth of the Temporal dev server's
   SQLite files and of cobro's PostgreSQL tables per open payment.
4. Stops cobro's worker and API, the Temporal server and PostgreSQL, and starts them again on
   the same data (the simulator plays the PSPs, which do not restart with cobro).
5. Pays the "paid later" half at the simulator and waits until every payment is `succeeded`
   or `expired` as the simulator's ledger says it must be (bench/chaos_check.py).

    .venv/bin/python -m bench.scale [--n 10000] [--concurrency 40]

Prints a table and writes bench/results/scale.json.
"""

import argparse
import asyncio
import json
import math
import signal
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.chaos_check import settle
from bench.chaos_orders import Order, OrderSpec, Tally, create_until_ok, pay
from bench.chaos_stack import ChaosStack
from bench.cobro_phase import db_bytes
from bench.console import Progress, say, step
from bench.merchant import new_merchant
from bench.paths import RESULTS
from bench.run_report import git_state, machine
from bench.stats import pct
from cobro.settings import Settings
from tests.stack import stop

# Production polling: open payments wait on their timers, not on a status check every 4 s.
OVERRIDES = {"COBRO_POLL_AFTER_SECONDS": "3600", "COBRO_POLL_MAX_SECONDS": "21600"}
PAID_LATER = OrderSpec("spei", None, "pay", 86_400)
EXPIRING = OrderSpec("spei", None, "expire", 0)  # expires_in set when it is created
RESTART_ALLOWANCE_S = 180  # from the last create to the restarted stack, with margin
SLOWDOWN = 2.5  # how much slower than the first payments the rest may be created


def mib(n_bytes: float) -> float:
    return round(n_bytes / 2**20, 1)


def temporal_bytes(root: Path) -> int:
    """The dev server's SQLite database with its journal (what it has written so far)."""
    return sum(f.stat().st_size for f in root.glob("temporal.db*"))


def rss(stack: ChaosStack, role: str) -> int:
    return int(psutil.Process(stack.cobro.procs[role].pid).memory_info().rss)


def restart_everything(stack: ChaosStack) -> None:
    """Stop as an operator would (SIGTERM; PostgreSQL's fast shutdown), then start again."""
    for role in ("api", "worker"):
        stop(stack.cobro.procs[role])
    stop(stack.servers.processes[1])  # Temporal
    stop(stack.servers.processes[0], signal.SIGINT)  # PostgreSQL
    stack.start_postgres()
    stack.start_temporal()
    for role in ("worker", "api"):
        stack.start(role)
    stack.cobro.wait_http(f"{stack.cobro.api_url}/healthz", timeout_s=90)


async def create_all(
    api: httpx.AsyncClient, n: int, concurrency: int, tally: Tally, stack: ChaosStack
) -> tuple[list[Order], list[float], float, float, int]:
    """Create every order; returns them, the create latencies (ms), the wall time, the moment
    (time.time()) the expiring ones expire, and the worker's peak RSS (sampled)."""
    orders = [Order(i, PAID_LATER) for i in range(n)]
    probe = min(n, max(100, n // 50))  # created first, to measure the rate
    expire_at = math.inf
    latencies: list[float] = []
    progress = Progress("create", n)
    peak = 0
    queue: asyncio.Queue[Order] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)
    started = time.monotonic()
    probe_done = asyncio.Event()

    async def loop() -> None:
        nonlocal expire_at, peak
        while not queue.empty():
            order = queue.get_nowait()
            if order.index >= probe:
                await probe_done.wait()
                if order.index % 2:
                    expires_in = max(60, math.ceil(expire_at - time.time()))
                    order.spec = replace(EXPIRING, expires_in=expires_in)
            sent = time.perf_counter()
            ok = await create_until_ok(api, order, tally)
            latencies.append((time.perf_counter() - sent) * 1000)
            progress.advance(ok)
            if progress.done == probe and not probe_done.is_set():
                rate = probe / (time.monotonic() - started)
                # The rest at that rate, with a wide margin: creation slows as open payments
                # pile up (24.7 payments/s for the first quarter of 10,000, 10 for the last);
                # then the restart.
                expire_at = time.time() + (n - probe) / rate * SLOWDOWN + RESTART_ALLOWANCE_S
                probe_done.set()
            if progress.done % 500 == 0:
                peak = max(peak, rss(stack, "worker"))

    await asyncio.gather(*(loop() for _ in range(concurrency)))
    progress.close()
    return orders, latencies, time.monotonic() - started, expire_at, peak


async def run(args: argparse.Namespace, stack: ChaosStack) -> dict[str, Any]:
    root = stack.root
    settings = Settings(database_url=stack.servers.database_url)
    api_key = await new_merchant(settings, "chaos")
    headers = {"Authorization": f"Bearer {api_key}"}
    async with (
        httpx.AsyncClient(base_url=stack.cobro.api_url, headers=headers, timeout=120) as api,
        httpx.AsyncClient(base_url=stack.cobro.sim_url, timeout=120) as sim,
    ):
        temporal_before, pg_before = temporal_bytes(root), await db_bytes(settings)
        tally = Tally()
        say(f"==> creating {args.n} payments at concurrency {args.concurrency}")
        orders, latencies, create_s, expire_at, peak_rss = await create_all(
            api, args.n, args.concurrency, tally, stack
        )
        created = [o for o in orders if o.payment is not None]
        await asyncio.sleep(5)  # let the last workflow tasks and projections land
        open_count = len(created)
        worker_rss = max(peak_rss, rss(stack, "worker"))
        temporal_growth = temporal_bytes(root) - temporal_before
        pg_growth = await db_bytes(settings) - pg_before
        expiring = sum(o.spec.plan == "expire" for o in created)
        say(
            f"    {open_count} open payments; worker RSS {mib(worker_rss)} MiB; "
            f"{expiring} expire at {datetime.fromtimestamp(expire_at, UTC):%H:%M:%S} UTC"
        )

        with step("full restart: worker, API, Temporal and PostgreSQL"):
            restart_started = time.monotonic()
            restart_everything(stack)
            restart_s = time.monotonic() - restart_started
        left_s = expire_at - time.time()
        say(f"    the expiring payments expire in {left_s:.0f} s")

        with step(f"paying {open_count - expiring} payments at the simulator"):
            gate = asyncio.Semaphore(args.concurrency)
            paying = [o for o in created if o.spec.plan == "pay"]
            progress = Progress("pay", len(paying))

            async def pay_one(order: Order) -> None:
                async with gate:
                    await pay(api, sim, order)
                progress.advance(not order.errors)

            await asyncio.gather(*(pay_one(o) for o in paying))
            progress.close()

        settle_started = time.monotonic()
        deadline = max(0.0, expire_at - time.time()) + args.settle_s
        with step("waiting until every payment succeeded or expired"):
            report = await settle(api, sim, orders, deadline, say=say)
        settle_s = time.monotonic() - settle_started
        worker_rss_end = rss(stack, "worker")

    return {
        "n": args.n,
        "concurrency": args.concurrency,
        "open_payments": open_count,
        "creation_per_s": round(open_count / create_s, 2),
        "create_p50_ms": round(pct(latencies, 50), 1),
        "create_p99_ms": round(pct(latencies, 99), 1),
        "worker_rss_mb": mib(worker_rss),
        "worker_rss_end_mb": mib(worker_rss_end),
        "temporal_bytes_per_open_payment": round(temporal_growth / max(open_count, 1)),
        "postgres_bytes_per_open_payment": round(pg_growth / max(open_count, 1)),
        "expiring_at_once": expiring,
        "restart_s": round(restart_s, 1),
        "settle_after_restart_s": round(settle_s, 1),
        "statuses": dict(report.statuses),
        "lost": report.count("lost"),
        "doubled": report.count("doubled"),
        "wrong": report.count("wrong"),
        "no_id": len(report.no_id),
        "api_5xx": tally.api_5xx,
        "ok": report.clean and not report.failures,
        "findings": [f"{f.category}: {f.payment_id}: {f.reason}" for f in report.findings[:20]],
        "machine": machine(),
        "git": git_state(),
        "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def table(r: dict[str, Any]) -> str:
    rows = [
        ("open payments", f"{r['open_payments']} of {r['n']} (concurrency {r['concurrency']})"),
        ("creation rate", f"{r['creation_per_s']} payments/s"),
        ("create p50 / p99", f"{r['create_p50_ms']} / {r['create_p99_ms']} ms"),
        (
            "worker RSS (peak while creating / at the end)",
            f"{r['worker_rss_mb']} / {r['worker_rss_end_mb']} MiB",
        ),
        ("Temporal bytes per open payment", f"{r['temporal_bytes_per_open_payment']}"),
        ("PostgreSQL bytes per open payment", f"{r['postgres_bytes_per_open_payment']}"),
        ("full restart", f"{r['restart_s']} s"),
        ("expiring at one moment", f"{r['expiring_at_once']}"),
        ("settled after the restart in", f"{r['settle_after_restart_s']} s"),
        ("final statuses", ", ".join(f"{k} {v}" for k, v in sorted(r["statuses"].items()))),
        (
            "lost / doubled / wrong / no id",
            f"{r['lost']} / {r['doubled']} / {r['wrong']} / {r['no_id']}",
        ),
        ("result", "ok" if r["ok"] else "FAILED"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="open payments")
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--settle-s", type=float, default=900, help="after the expiry moment")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.json")
    parser.add_argument("--tmpdir", type=Path, default=None)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cobro-scale-", dir=args.tmpdir) as tmp:
        with step("starting the stack (PostgreSQL, Temporal, worker, API, simulator)"):
            stack = ChaosStack(Path(tmp), OVERRIDES)
        try:
            result = asyncio.run(run(args, stack))
        finally:
            with step("stopping the stack"):
                stack.stop_all()
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    say(f"written to {args.out}")
    sys.exit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
