"""Percentiles and means of the measured figures, and the pool of concurrent loops that runs
(and times) a phase."""

import asyncio
import math
import time
from collections.abc import Awaitable, Callable

from bench.console import Progress


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
