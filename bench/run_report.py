"""The report of `make bench`: the fields of bench/results/latest.json (with the machine and the
commit measured) and the table printed at the end."""

import math
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench.baseline_phase import BaselineResult
from bench.cobro_phase import CobroResult
from bench.meters import HISTORY_SAMPLE
from bench.paths import ROOT
from bench.stats import mean, pct, rounded


def machine() -> dict[str, Any]:
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu_model": model,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
    }


def filesystem_of(path: Path) -> str:
    """The file system holding the stack's data, e.g. "ext4" or "tmpfs" (fsync costs differ)."""
    best = None
    for part in psutil.disk_partitions(all=True):
        if path.is_relative_to(part.mountpoint) and (
            best is None or len(part.mountpoint) > len(best.mountpoint)
        ):
            best = part
    return f"{best.fstype} ({best.mountpoint})" if best else "unknown"


def git_state() -> dict[str, Any]:
    """The commit measured, and whether files outside bench/ differed from it."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
            )
        except (OSError, subprocess.CalledProcessError):
            return None
        return out.stdout.strip()

    status = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench")
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(status)}


def build_results(
    n: int,
    concurrency: int,
    poll_s: float,
    base: BaselineResult,
    run: CobroResult,
    worker_rss_mb: float,
    worker_rss_end_mb: float,
    storage: str,
) -> dict[str, Any]:
    creates = [s.create_ms for s in run.samples]
    acks = [s.ack_ms for s in run.samples]
    server_acks = [s.ack_server_ms for s in run.samples]
    settles = [s.pay_to_succeeded_ms for s in run.samples]
    done = len(run.samples)
    ratio = run.payments_per_s / base.workflows_per_s if base.workflows_per_s else math.nan
    results: dict[str, Any] = {
        "n": n,
        "concurrency": concurrency,
        "e2e_payments_per_s": rounded(run.payments_per_s, 2),
        "baseline_workflows_per_s": rounded(base.workflows_per_s, 2),
        "throughput_ratio": rounded(ratio, 3),
        "create_p50_ms": rounded(pct(creates, 50)),
        "create_p99_ms": rounded(pct(creates, 99)),
        "webhook_ack_p50_ms": rounded(pct(acks, 50)),
        "webhook_ack_p99_ms": rounded(pct(acks, 99)),
        "webhook_ack_server_p50_ms": rounded(pct(server_acks, 50)),
        "webhook_ack_server_p99_ms": rounded(pct(server_acks, 99)),
        "pay_to_succeeded_p50_ms": rounded(pct(settles, 50)),
        "pay_to_succeeded_p99_ms": rounded(pct(settles, 99)),
        "history_events_per_payment": rounded(run.history_events),
        "baseline_history_events": rounded(base.history_events),
        "worker_rss_mb": rounded(worker_rss_mb),
        "db_bytes_per_payment": round(run.db_bytes / done) if done else None,
        "machine": machine(),
        # The machine is shared: its load when the figures were taken.
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
        # -- context for the figures above --
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "git": git_state(),
        "method": "oxxo",
        "stack_storage": storage,
        "warmup_per_phase": min(n, max(5, concurrency)),
        "succeeded_poll_interval_ms": round(poll_s * 1000),
        "errors": {"baseline": len(base.errors), "cobro": len(run.errors)},
        "completed_by": dict(run.sources),
        "baseline_seconds": round(base.seconds, 2),
        "cobro_seconds": round(run.seconds, 2),
        "baseline_workflow_p50_ms": rounded(pct(base.latency_ms, 50)),
        "baseline_workflow_p99_ms": rounded(pct(base.latency_ms, 99)),
        "webhook_to_decision_p50_ms": rounded(pct(run.webhook_to_decision_ms, 50)),
        "webhook_to_decision_p99_ms": rounded(pct(run.webhook_to_decision_ms, 99)),
        "succeeded_polls_per_payment": rounded(mean([float(s.polls) for s in run.samples]), 2),
        "worker_rss_end_mb": rounded(worker_rss_end_mb),
        "history_note": (
            "events in each payment workflow's history when fetched right after the run, mean of "
            f"{min(done, HISTORY_SAMPLE)}; the workflow stays open after success (refund window), "
            "so this is its history at that moment: up to success plus what it did right after "
            "(the refund window's TimerStarted)"
        ),
        "history_event_types_per_payment": run.history_types,
        "baseline_history_event_types": base.history_types,
        "cpu_ms_per_payment": {k: round(v * 1000 / done, 2) for k, v in run.cpu_s.items() if done},
        "cpu_ms_per_baseline_workflow": {k: round(v * 1000 / n, 2) for k, v in base.cpu_s.items()},
    }
    results["targets"] = {
        "throughput_ratio >= 0.75": ratio >= 0.75,
        "webhook_ack_p99_ms <= 50": pct(acks, 99) <= 50,
        "history_events_per_payment <= 2x baseline": (
            run.history_events <= 2 * base.history_events
        ),
    }
    return results


def fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}{unit}" if abs(value) < 10 else f"{value:,.1f}{unit}"
    return f"{value}{unit}"


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def table(r: dict[str, Any]) -> str:
    t = r["targets"]
    m = r["machine"]
    by = r["completed_by"]
    rows: list[tuple[str, str, str, str]] = [
        ("metric", "value", "target", "result"),
        ("payments / workflows", f"{r['n']} at concurrency {r['concurrency']}", "", ""),
        ("cobro e2e payments/s", fmt(r["e2e_payments_per_s"]), "", ""),
        ("baseline workflows/s", fmt(r["baseline_workflows_per_s"]), "", ""),
        (
            "throughput ratio",
            fmt(r["throughput_ratio"]),
            ">= 0.75",
            verdict(t["throughput_ratio >= 0.75"]),
        ),
        ("create p50 / p99", f"{fmt(r['create_p50_ms'])} / {fmt(r['create_p99_ms'])} ms", "", ""),
        (
            "webhook ack p50 / p99",
            f"{fmt(r['webhook_ack_p50_ms'])} / {fmt(r['webhook_ack_p99_ms'])} ms",
            "p99 <= 50 ms",
            verdict(t["webhook_ack_p99_ms <= 50"]),
        ),
        (
            "  of which in the API handler",
            f"{fmt(r['webhook_ack_server_p50_ms'])} / {fmt(r['webhook_ack_server_p99_ms'])} ms",
            "",
            "",
        ),
        (
            "webhook -> succeeded p50 / p99",
            f"{fmt(r['pay_to_succeeded_p50_ms'])} / {fmt(r['pay_to_succeeded_p99_ms'])} ms",
            "",
            "",
        ),
        (
            "history events / payment",
            fmt(r["history_events_per_payment"]),
            f"<= {fmt(2 * (r['baseline_history_events'] or 0))} (2x baseline)",
            verdict(t["history_events_per_payment <= 2x baseline"]),
        ),
        ("baseline history events", fmt(r["baseline_history_events"]), "", ""),
        ("worker RSS (peak)", fmt(r["worker_rss_mb"], " MB"), "", ""),
        ("PostgreSQL bytes / payment", fmt(r["db_bytes_per_payment"]), "", ""),
        (
            "succeeded by webhook / poll",
            f"{by.get('psp_webhook', 0)} / {by.get('psp_poll', 0)}",
            "",
            "",
        ),
        (
            "errors (baseline / cobro)",
            f"{r['errors']['baseline']} / {r['errors']['cobro']}",
            "",
            "",
        ),
        ("machine", f"{m['cores']} cores, {m['memory_gb']} GB", "", ""),
        ("stack data on", r["stack_storage"], "", ""),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))

    if r.get("open_loop"):
        lines.append("")
        lines.append(
            "open loop: fraction  rate/s  create p99  ack p99  pay->succeeded p99  (knee "
            f"{fmt(r.get('knee_fraction'))}, target >= 0.8)"
        )
        for s in r["open_loop"]:
            lines.append(
                f"           {s['fraction']:.2f}  {fmt(s['rate_per_s']):>6}  "
                f"{fmt(s['create_p99_ms'], ' ms'):>10}  {fmt(s['webhook_ack_p99_ms'], ' ms'):>7}  "
                f"{fmt(s['pay_to_succeeded_p99_ms'], ' ms'):>18}"
                + ("" if s["within_targets"] else "  MISSED")
            )
    lines.append(f"load average (1, 5, 15 min): {r.get('load_average_1_5_15')}")

    cpu_rows = [("CPU ms per item", "cobro payment", "baseline workflow")]
    for name in r["cpu_ms_per_payment"]:
        cpu_rows.append(
            (
                name,
                fmt(r["cpu_ms_per_payment"][name]),
                fmt(r["cpu_ms_per_baseline_workflow"].get(name)),
            )
        )
    cw = [max(len(row[i]) for row in cpu_rows) for i in range(3)]
    lines.append("")
    lines += ["  ".join(c.ljust(cw[i]) for i, c in enumerate(row)).rstrip() for row in cpu_rows]
    return "\n".join(lines)
