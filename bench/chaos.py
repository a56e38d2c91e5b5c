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

The scenarios are in bench/chaos_scenarios.py, what they share (`Ctx`) in bench/chaos_context.py,
the stack and its faults in bench/chaos_stack.py.
"""

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.chaos_context import Ctx
from bench.chaos_scenarios import SCENARIOS, Scenario
from bench.chaos_stack import ChaosStack
from bench.console import say
from bench.merchant import new_merchant
from bench.paths import RESULTS, ROOT
from cobro.settings import Settings

# ---- running a scenario ----------------------------------------------------------------


async def run_body(scenario: Scenario, args: argparse.Namespace, stack: ChaosStack) -> Ctx:
    api_key = await new_merchant(Settings(database_url=stack.servers.database_url), "chaos")
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
