"""The baseline phase of `make bench`: N bare Temporal workflows (bench/baseline.py) at
concurrency C on an in-process worker, timed, with their CPU and history events.

Kept apart from bench/baseline.py, which the workflow sandbox re-imports."""

import time
from dataclasses import dataclass

from temporalio.client import Client
from temporalio.worker import Worker

from bench.baseline import TASK_QUEUE as BASELINE_QUEUE
from bench.baseline import BaselineWorkflow, create_charge
from bench.console import Progress
from bench.meters import HISTORY_SAMPLE, Meters, cpu_delta, history_profile
from bench.stats import run_pool


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
