"""`make bench`: cobro end to end against a bare Temporal baseline, same run, same server.

1. Starts its own stack the way the tests do (tests/stack.py): embedded PostgreSQL and the
   Temporal dev server (persisting to a file) in a temporary folder, then `cobro worker`,
   `cobro api` and `cobro simulator` as real processes, all on free 127.0.0.1 ports.
2. Baseline: N bare workflows (start, one no-op activity, one signal, complete; bench/baseline.py)
   at concurrency C on an in-process worker (task queue `bench-baseline`).
3. cobro: N OXXO payments at concurrency C: create through the API, pay in the simulator, the
   Stripe webhook sent by this script (the simulator's own webhooks are dropped so the ack can be
   timed), poll `GET /v1/payments/{id}` until `succeeded`.
4. Open loop (bench/open_loop.py): rising arrival rates, fractions of the baseline's max rate,
   to find the knee (create p99 <= 300 ms and webhook ack p99 <= 30 ms).
5. Prints a table and writes bench/results/latest.json.

    .venv/bin/python -m bench.run [--n 200] [--concurrency 20]

The phases are in bench/baseline_phase.py and bench/cobro_phase.py, what they cost the stack in
bench/meters.py, the JSON fields and the table in bench/run_report.py.
"""

import argparse
import asyncio
import json
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import psutil
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from bench import gc_pauses
from bench.baseline_phase import run_baseline
from bench.cobro_phase import run_cobro
from bench.console import say, step
from bench.merchant import new_merchant
from bench.meters import Meters
from bench.open_loop import FRACTIONS, parse_fractions, run_open_loop
from bench.paths import RESULTS, ROOT
from bench.run_report import build_results, filesystem_of, table
from cobro.settings import Settings
from cobro.temporal_client import connect
from tests.stack import CobroProcesses, Servers

# ---- main ------------------------------------------------------------------------------


async def measure(
    args: argparse.Namespace, servers: Servers, cobro: CobroProcesses, root: Path
) -> dict[str, Any]:
    settings = Settings(
        database_url=servers.database_url,
        temporal_address=servers.temporal_address,
        cobro_data_dir=root / "data",
    )
    client = await connect(settings)
    meters = Meters(servers, cobro)
    n, c = args.n, args.concurrency
    warmup = min(n, max(5, c))
    run_id = uuid.uuid4().hex[:8]

    # The baseline stays bare Temporal, without cobro's payload encryption, so the ratio
    # includes what the codec costs cobro.
    bare = await Client.connect(settings.temporal_target, data_converter=pydantic_data_converter)
    with (
        step(f"baseline: {n} bare workflows at concurrency {c} (+{warmup} warm-up)"),
        gc_pauses.none_while_timing(),
    ):
        base = await run_baseline(bare, meters, n, c, warmup, run_id)

    stop = asyncio.Event()
    sampler = asyncio.create_task(meters.sample_rss(stop))
    try:
        with (
            step(f"cobro: {n} payments end to end at concurrency {c} (+{warmup} warm-up)"),
            gc_pauses.none_while_timing(),
        ):
            run = await run_cobro(
                cobro, client, settings, meters, n, c, warmup, args.poll_ms / 1000, args.profile
            )
    finally:
        stop.set()
        await sampler
    for label, errors in (("baseline", base.errors), ("cobro", run.errors)):
        for message in errors[:5]:
            say(f"    {label} error {message}")
    if not run.samples:
        raise RuntimeError(f"no payment succeeded; see the logs in {root} (--keep keeps them)")
    open_loop: list[dict[str, Any]] = []
    knee: float | None = None
    if args.open_loop_s > 0:
        with (
            step(f"open loop: rising rates, {args.open_loop_s:g} s each"),
            gc_pauses.none_while_timing(),
        ):
            open_loop, knee = await run_open_loop(
                cobro.api_url,
                cobro.sim_url,
                await new_merchant(settings, "bench-open-loop"),
                base.workflows_per_s,
                args.fractions,
                args.open_loop_s,
            )
    results = build_results(
        n,
        c,
        args.poll_ms / 1000,
        base,
        run,
        meters.worker_rss_peak / 2**20,
        meters.worker_rss_mb(),
        filesystem_of(root),
    )
    results["open_loop"], results["knee_fraction"] = open_loop, knee
    if open_loop:  # no open-loop phase (--open-loop-s 0): no knee to judge
        results["targets"]["knee_fraction >= 0.8"] = knee is not None and knee >= 0.8
    return results


def run_stack(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Start the stack, measure, and stop every process this run started, whatever happens."""
    servers: Servers | None = None
    cobro: CobroProcesses | None = None
    try:
        with step("starting PostgreSQL and the Temporal dev server (runs the migrations)"):
            servers = Servers.start(root)
        with step("starting cobro worker, api and simulator"):
            cobro = CobroProcesses.start(servers)
        return asyncio.run(measure(args, servers, cobro, root))
    finally:
        with step("stopping the stack"):
            if cobro is not None:
                cobro.stop()
            if servers is not None:
                servers.stop()
            reap_children()


def reap_children() -> None:
    """Stop any child of this process still running (e.g. PostgreSQL when Servers.start failed
    after starting it): only processes this run started, each by its pid."""
    children = psutil.Process().children()
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(children, timeout=15)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="payments and baseline workflows")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent loops")
    parser.add_argument(
        "--poll-ms", type=float, default=50, help="interval of GET /v1/payments/{id} polls"
    )
    parser.add_argument(
        "--open-loop-s",
        type=float,
        default=20,
        help="seconds of arrivals at each open-loop rate (0: no open-loop phase)",
    )
    parser.add_argument(
        "--fractions",
        type=parse_fractions,
        default=FRACTIONS,
        help="open-loop rates as fractions of the baseline's max rate, e.g. 0.5,0.7,0.9",
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "latest.json", help="where to write the results"
    )
    parser.add_argument(
        "--tmpdir",
        type=Path,
        default=None,
        help="parent of the stack's folder (default: the system's; /dev/shm takes the disk's "
        "fsyncs out of PostgreSQL and the Temporal dev server's SQLite)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder and logs")
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        metavar="DIR",
        help="py-spy the worker and the API during the cobro phase into DIR (needs py-spy)",
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.concurrency < 1:
        parser.error("--n and --concurrency must be at least 1")

    root = Path(tempfile.mkdtemp(prefix="cobro-bench-", dir=args.tmpdir))
    try:
        results = run_stack(args, root)
    finally:
        if args.keep:
            say(f"    stack folder and logs kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    print(
        f"\nwritten to {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}"
    )


if __name__ == "__main__":
    main()
