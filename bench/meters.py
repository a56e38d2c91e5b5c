"""What a phase costs the stack: CPU seconds per process, the worker's peak RSS, and the events
in the workflows' Temporal histories."""

import asyncio
import os
from collections import Counter

import psutil
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from bench.stats import mean
from tests.stack import CobroProcesses, Servers

HISTORY_SAMPLE = 20  # workflow histories fetched per phase

# ---- processes: CPU and memory ---------------------------------------------------------


class Meters:
    """CPU seconds per process of the stack, and the worker's peak RSS."""

    def __init__(self, servers: Servers, cobro: CobroProcesses) -> None:
        postgres, temporal = servers.processes
        self.pids = {
            # every cobro role and replica (worker, worker-2, api, simulator, ...)
            **{name: proc.pid for name, proc in cobro.procs.items()},
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
