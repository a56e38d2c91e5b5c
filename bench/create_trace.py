"""Where a create's time goes, from its trace: a fresh stack exporting OpenTelemetry spans to a
local receiver (tests/otlp.py), OXXO creates one at a time at `--rate` per second, and the
median of each leg, read from the spans timed in real time (the API's, and the worker's
activity spans; the workflow's own spans carry workflow time, so they are not used).

    .venv/bin/python -m bench.create_trace [--n 40] [--rate 2]
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import httpx

from bench.console import step
from bench.merchant import new_merchant
from cobro.settings import Settings
from tests.e2e.helpers import OXXO_BODY
from tests.otlp import Receiver, Span, serve
from tests.stack import CobroProcesses, Servers

WARMUP = 5


async def create(api_url: str, database_url: str, n: int, rate: float) -> None:
    api_key = await new_merchant(Settings(database_url=database_url), "trace")
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=60) as api:
        for i in range(n):
            key = {"Idempotency-Key": f"trace-{i}-{time.time_ns()}"}
            response = await api.post("/v1/payments", json=OXXO_BODY, headers=key)
            assert response.status_code == 201, response.text
            await asyncio.sleep(1 / rate)


def legs(trace: list[Span]) -> dict[str, float] | None:
    """One create's legs in ms, or None when a span is missing."""
    spans = {s.name: s for s in trace}
    names = (
        "POST /v1/payments",
        "StartUpdateWithStartWorkflow:PaymentWorkflow",
        "RunActivity:create_charge",
        "RunActivity:record_transitions",
    )
    if not all(name in spans for name in names):
        return None
    request, start, charge, record = (spans[name] for name in names)

    def ms(a: int, b: int) -> float:
        return (b - a) / 1e6

    return {
        "API, before calling Temporal": ms(request.start_ns, start.start_ns),
        "Temporal and worker, until the PSP call": ms(start.start_ns, charge.start_ns),
        "the PSP call (local activity)": ms(charge.start_ns, charge.end_ns),
        "worker, until the record": ms(charge.end_ns, record.start_ns),
        "the record (local activity)": ms(record.start_ns, record.end_ns),
        "worker and Temporal, until the API has the answer": ms(record.end_ns, start.end_ns),
        "API, after": ms(start.end_ns, request.end_ns),
        "total (the API's request span)": ms(request.start_ns, request.end_ns),
    }


def table(receiver: Receiver) -> str:
    traces: dict[str, list[Span]] = defaultdict(list)
    for span in receiver.snapshot():
        traces[span.trace_id].append(span)
    roots = sorted(
        (t for t in traces.values() if any(s.name == "POST /v1/payments" for s in t)),
        key=lambda t: min(s.start_ns for s in t),
    )[WARMUP:]
    columns: dict[str, list[float]] = defaultdict(list)
    for trace in roots:
        for leg, value in (legs(trace) or {}).items():
            columns[leg].append(value)
    width = max(len(leg) for leg in columns)
    lines = [f"{'leg of a create':<{width}}  median ms  (of {len(roots)} creates)"]
    lines += [f"{leg:<{width}}  {statistics.median(v):9.1f}" for leg, v in columns.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.create_trace", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--rate", type=float, default=2, help="creates per second")
    args = parser.parse_args()
    receiver = Receiver()
    server = serve(receiver)
    with tempfile.TemporaryDirectory(prefix="cobro-trace-") as tmp:
        with step("starting the stack"):
            servers = Servers.start(Path(tmp))
        try:
            env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint}
            cobro = CobroProcesses.start(servers, {**env, "OTEL_BSP_SCHEDULE_DELAY": "200"})
            try:
                with step(f"{args.n} creates at {args.rate}/s"):
                    asyncio.run(create(cobro.api_url, servers.database_url, args.n, args.rate))
                    time.sleep(1)  # the last spans' export
            finally:
                cobro.stop()
        finally:
            servers.stop()
            server.shutdown()
    print(table(receiver))


if __name__ == "__main__":
    main()
