"""What `make bench-herd` (bench/herd.py) watches while the herd expires: creates arriving on a
fixed schedule (open loop, timed from each scheduled moment), and the vouchers' statuses read
from cobro's PostgreSQL (its projection), so that watching costs the API nothing."""

import asyncio
import time
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text

from bench.chaos_orders import Order, OrderSpec, Tally, create_until_ok
from bench.console import say
from cobro.db.session import make_engine
from cobro.settings import Settings

OPEN = OrderSpec("oxxo", None, "open", 3 * 86_400)
FINAL = ("succeeded", "expired", "canceled", "failed")


@dataclass
class SteadyCreates:
    """Creates at `rate` per second until `stop` is set, each its own task."""

    api: httpx.AsyncClient
    rate: float
    tally: Tally
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    orders: list[Order] = field(default_factory=list)
    # (scheduled moment as time.time(), latency in ms from it)
    samples: list[tuple[float, float]] = field(default_factory=list)

    async def _one(self, order: Order, scheduled: float) -> None:
        await create_until_ok(self.api, order, self.tally)
        self.samples.append((scheduled, (time.time() - scheduled) * 1000))

    async def run(self) -> None:
        tasks: list[asyncio.Task[None]] = []
        start = time.time()
        i = 0
        while not self.stop.is_set():
            scheduled = start + i / self.rate
            try:
                await asyncio.wait_for(self.stop.wait(), max(0.0, scheduled - time.time()))
                break
            except TimeoutError:
                pass
            order = Order(1_000_000 + i, OPEN)
            self.orders.append(order)
            tasks.append(asyncio.create_task(self._one(order, scheduled)))
            i += 1
        await asyncio.gather(*tasks)

    def latencies_between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.samples if start <= at <= end]


async def _count_final(settings: Settings, ids: list[str]) -> int:
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            count = await conn.scalar(
                text("SELECT count(*) FROM payments WHERE id = ANY(:ids) AND status = ANY(:f)"),
                {"ids": ids, "f": list(FINAL)},
            )
    finally:
        await engine.dispose()
    return int(count or 0)


async def watch_until_final(settings: Settings, ids: list[str], give_up_at: float) -> float | None:
    """time.time() once every one of `ids` is final (None: not by `give_up_at`)."""
    last_said = 0.0
    while time.time() < give_up_at:
        final = await _count_final(settings, ids)
        if final == len(ids):
            return time.time()
        if time.time() - last_said >= 15:
            last_said = time.time()
            say(f"    {final} of {len(ids)} vouchers final")
        await asyncio.sleep(2)
    return None


async def final_times(settings: Settings, ids: list[str]) -> dict[str, float]:
    """Per payment of `ids`, when (time.time()) it became final: its first final transition."""
    engine = make_engine(settings)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT payment_id, min(at) FROM payment_events WHERE payment_id = ANY(:ids) "
                    "AND kind = 'transition' AND to_status = ANY(:f) GROUP BY payment_id"
                ),
                {"ids": ids, "f": list(FINAL)},
            )
            return {payment_id: at.timestamp() for payment_id, at in rows}
    finally:
        await engine.dispose()
