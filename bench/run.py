"""`make bench`: cobro end to end against a bare Temporal baseline, same run, same server.

1. Starts its own stack the way the tests do (tests/stack.py): embedded PostgreSQL and the
   Temporal dev server (persisting to a file) in a temporary folder, then `cobro worker`,
   `cobro api` and `cobro simulator` as real processes, all on free 127.0.0.1 ports.
2. Baseline: N bare workflows (start, one no-op activity, one signal, complete; bench/baseline.py)
   at concurrency C on an in-process worker (task queue `bench-baseline`).
3. cobro: N OXXO payments at concurrency C: create through the API, pay in the simulator, the
   Stripe webhook sent by this script (the simulator's own webhooks are dropped so the ack can be
   timed), poll `GET /v1/payments/{id}` until `succeeded`.
4. Prints a table and writes bench/results/latest.json.

    .venv/bin/python -m bench.run [--n 200] [--concurrency 20]
"""

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import text
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline import TASK_QUEUE as BASELINE_QUEUE
from bench.baseline import BaselineWorkflow, create_charge
from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.domain.ids import workflow_id
from cobro.psp.stripe import signature
from cobro.settings import SIMULATOR_STRIPE_API_KEY, SIMULATOR_STRIPE_WEBHOOK_SECRET, Settings
from cobro.temporal_client import connect
from tests.stack import CobroProcesses, Servers

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
STRIPE_API_VERSION = "2024-06-20"  # what simulator/state.py stamps on its events
PAYMENT_BODY: dict[str, Any] = {
    "amount": 25_000,
    "currency": "MXN",
    "method": "oxxo",
    "customer": {"name": "Ana López", "email": "ana@example.mx"},
    "description": "bench",
    "metadata": {"bench": "1"},
}
HISTORY_SAMPLE = 20
SUCCEEDED_TIMEOUT_S = 60.0

# ---- console ---------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@contextmanager
def step(label: str) -> Iterator[None]:
    say(f"==> {label} ...")
    started = time.monotonic()
    yield
    say(f"    {label}: done in {time.monotonic() - started:.1f} s")


class Progress:
    """A one-line progress bar on stderr (a line per 25 % when stderr is not a terminal)."""

    WIDTH = 30

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.errors = label, total, 0, 0
        self.started = time.monotonic()
        self.tty = sys.stderr.isatty()
        self._last_quarter = -1
        self._draw()

    def advance(self, ok: bool = True) -> None:
        self.done += 1
        self.errors += 0 if ok else 1
        self._draw()

    def _draw(self) -> None:
        elapsed = time.monotonic() - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        filled = self.WIDTH * self.done // max(self.total, 1)
        line = (
            f"    {self.label} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
            f"{self.done}/{self.total}  {rate:6.1f}/s  {elapsed:5.1f} s"
            + (f"  {self.errors} errors" if self.errors else "")
        )
        if self.tty:
            sys.stderr.write("\r" + line)
            sys.stderr.flush()
        else:
            quarter = 4 * self.done // max(self.total, 1)
            if quarter != self._last_quarter:
                self._last_quarter = quarter
                say(line)

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")
            sys.stderr.flush()


# ---- statistics ------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else math.nan


def rounded(value: float, digits: int = 1) -> float | None:
    return None if math.isnan(value) else round(value, digits)


async def run_pool(
    n: int, concurrency: int, one: Callable[[int], Awaitable[None]], progress: Progress | None
) -> tuple[float, list[str]]:
    """Run one(i) for i in range(n) on `concurrency` loops; (seconds, error messages)."""
    indexes = iter(range(n))
    errors: list[str] = []

    async def loop() -> None:
        for i in indexes:
            try:
                await one(i)
            except Exception as exc:
                errors.append(f"#{i}: {exc!r}"[:300])
                ok = False
            else:
                ok = True
            if progress is not None:
                progress.advance(ok)

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress.close()
    return elapsed, errors


# ---- processes: CPU and memory ---------------------------------------------------------


class Meters:
    """CPU seconds per process of the stack, and the worker's peak RSS."""

    def __init__(self, servers: Servers, cobro: CobroProcesses) -> None:
        postgres, temporal = servers.processes
        self.pids = {
            "worker": cobro.procs["worker"].pid,
            "api": cobro.procs["api"].pid,
            "simulator": cobro.procs["simulator"].pid,
            "temporal": temporal.pid,
            "postgres": postgres.pid,
            "bench": os.getpid(),
        }
        self.worker = psutil.Process(self.pids["worker"])
        self.worker_rss_peak = 0

    def cpu(self) -> dict[str, float]:
        """Cumulative CPU seconds; PostgreSQL includes its backends (live and reaped)."""
        seconds: dict[str, float] = {}
        for name, pid in self.pids.items():
            proc = psutil.Process(pid)
            t = proc.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            if name == "postgres":
                for child in proc.children(recursive=True):
                    try:
                        c = child.cpu_times()
                    except psutil.NoSuchProcess:
                        continue
                    total += c.user + c.system
            seconds[name] = total
        return seconds

    def worker_rss_mb(self) -> float:
        return float(self.worker.memory_info().rss) / 2**20

    async def sample_rss(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.worker_rss_peak = max(self.worker_rss_peak, self.worker.memory_info().rss)
            try:
                await asyncio.wait_for(stop.wait(), timeout=0.25)
            except TimeoutError:
                pass


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before[name] for name in before}


# ---- Temporal histories ----------------------------------------------------------------


async def history_profile(
    client: Client, workflow_ids: list[str]
) -> tuple[float, dict[str, float]]:
    """Mean events per workflow over `workflow_ids`, and the mean count of each event type."""
    totals: list[float] = []
    types: Counter[str] = Counter()
    for wid in workflow_ids:
        history = await client.get_workflow_handle(wid).fetch_history()
        totals.append(len(history.events))
        for event in history.events:
            types[EventType.Name(event.event_type).removeprefix("EVENT_TYPE_")] += 1
    count = max(len(workflow_ids), 1)
    by_type = {name: round(k / count, 2) for name, k in types.most_common()}
    return mean(totals), by_type


# ---- baseline --------------------------------------------------------------------------


@dataclass
class BaselineResult:
    workflows_per_s: float
    seconds: float
    latency_ms: list[float]
    history_events: float
    history_types: dict[str, float]
    cpu_s: dict[str, float]
    errors: list[str]


async def run_baseline(
    client: Client, meters: Meters, n: int, concurrency: int, warmup: int, run_id: str
) -> BaselineResult:
    latencies: list[float] = []

    async def one(i: int, record: bool = True) -> None:
        started = time.perf_counter()
        handle = await client.start_workflow(
            BaselineWorkflow.run,
            f"{run_id}-{i}",
            id=f"bench-baseline-{run_id}-{i}",
            task_queue=BASELINE_QUEUE,
        )
        # The signal is buffered by the server: the workflow takes it once its activity is done.
        await handle.signal(BaselineWorkflow.paid_signal)
        await handle.result()
        if record:
            latencies.append((time.perf_counter() - started) * 1000)

    async def warm(i: int) -> None:
        await one(n + i, record=False)

    async with Worker(
        client,
        task_queue=BASELINE_QUEUE,
        workflows=[BaselineWorkflow],
        activities=[create_charge],
    ):
        if warmup:
            await run_pool(warmup, concurrency, warm, None)
        before = meters.cpu()
        seconds, errors = await run_pool(n, concurrency, one, Progress("baseline", n))
        cpu = cpu_delta(before, meters.cpu())
    sample = [f"bench-baseline-{run_id}-{i}" for i in range(min(n, HISTORY_SAMPLE))]
    events, types = await history_profile(client, sample)
    return BaselineResult(
        workflows_per_s=(n - len(errors)) / seconds,
        seconds=seconds,
        latency_ms=latencies,
        history_events=events,
        history_types=types,
        cpu_s=cpu,
        errors=errors,
    )


# ---- cobro -----------------------------------------------------------------------------


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


def stripe_event(intent: dict[str, Any]) -> bytes:
    """The event simulator/state.py's send_stripe_event would send for this PaymentIntent."""
    event = {
        "id": f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": int(time.time()),
        "data": {"object": intent},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": f"payment_intent.{intent['status']}",
    }
    return json.dumps(event).encode()


class CobroDriver:
    def __init__(self, api: httpx.AsyncClient, sim: httpx.AsyncClient, poll_s: float) -> None:
        self.api, self.sim, self.poll_s = api, sim, poll_s
        self.stripe_auth = {"Authorization": f"Bearer {SIMULATOR_STRIPE_API_KEY}"}

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
        intent = await self.sim.get(
            f"/stripe/v1/payment_intents/{reference}", headers=self.stripe_auth
        )
        intent.raise_for_status()
        body = stripe_event(intent.json())

        sent_at = datetime.now(UTC)
        sent = time.perf_counter()
        ack = await self.api.post(
            "/webhooks/stripe",
            content=body,
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET),
            },
        )
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


async def new_merchant(settings: Settings) -> str:
    engine = make_engine(settings)
    api_key = merchants_repo.new_api_key()
    try:
        async with make_sessionmaker(engine).begin() as session:
            await merchants_repo.create_merchant(session, "bench", api_key)
    finally:
        await engine.dispose()
    return api_key


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
    api_key = await new_merchant(settings)
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


# ---- optional profiling ----------------------------------------------------------------


def start_profilers(directory: Path, meters: Meters) -> list[subprocess.Popen[bytes]]:
    """py-spy (if installed in this virtualenv; it is not a dependency) on the worker and the
    API for the timed cobro phase, as collapsed stacks: `python -m bench.stacks FILE`."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        raise SystemExit(f"--profile needs py-spy: {sys.executable} -m pip install py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    procs = []
    for role in ("worker", "api"):
        argv = [str(py_spy), "record", "--pid", str(meters.pids[role]), "--rate", "200"]
        argv += ["--format", "raw", "--output", str(directory / f"{role}.txt"), "--nonblocking"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def stop_profilers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- report ----------------------------------------------------------------------------


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
        "throughput_ratio >= 0.5": ratio >= 0.5,
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
            ">= 0.5",
            verdict(t["throughput_ratio >= 0.5"]),
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

    with step(f"baseline: {n} bare workflows at concurrency {c} (+{warmup} warm-up)"):
        base = await run_baseline(client, meters, n, c, warmup, run_id)

    stop = asyncio.Event()
    sampler = asyncio.create_task(meters.sample_rss(stop))
    try:
        with step(f"cobro: {n} payments end to end at concurrency {c} (+{warmup} warm-up)"):
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
    return build_results(
        n,
        c,
        args.poll_ms / 1000,
        base,
        run,
        meters.worker_rss_peak / 2**20,
        meters.worker_rss_mb(),
        filesystem_of(root),
    )


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
