"""One chaos scenario in progress (`Ctx`): its stack, its clients and orders, the faults it caused
and what it noted, and the steps every scenario takes: drive the orders while the faults happen,
bring back what died, wait for every payment to settle."""

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from bench.chaos_check import Report, settle
from bench.chaos_orders import Order, Tally, create_until_ok, pay
from bench.chaos_stack import ChaosStack
from bench.console import say


@dataclass
class Ctx:
    name: str
    args: argparse.Namespace
    stack: ChaosStack
    api: httpx.AsyncClient
    sim: httpx.AsyncClient
    orders: list[Order]
    tally: Tally = field(default_factory=Tally)
    t0: float = field(default_factory=time.monotonic)
    faults: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fail_on_5xx: bool = False
    load_s: float = 0.0
    settle_s: float = 0.0
    report: Report | None = None
    creating: dict[int, float] = field(default_factory=dict)  # order index -> create started
    failovers: list[str] = field(default_factory=list)  # payments whose charge moved PSP

    def say(self, message: str) -> None:
        say(f"    [{self.name} {time.monotonic() - self.t0:6.1f} s] {message}")

    def fault(self, message: str) -> None:
        self.faults.append(f"{time.monotonic() - self.t0:.1f} s: {message}")
        self.say(message)

    async def drive(
        self, faults: Callable[["Ctx"], Awaitable[None]] | None = None, spread_s: float = 24
    ) -> None:
        """Create every order (staggered over `spread_s`) and pay it as planned, while
        `faults` runs; then bring back any cobro process that died on its own."""
        n = len(self.orders)
        started = time.monotonic()

        async def one(order: Order) -> None:
            await asyncio.sleep(order.index * spread_s / max(n, 1))
            self.creating[order.index] = time.monotonic()
            try:
                created = await create_until_ok(self.api, order, self.tally)
            finally:
                del self.creating[order.index]
            if created:
                await pay(self.api, self.sim, order)

        async def progress(done: asyncio.Event) -> None:
            while not done.is_set():
                try:
                    await asyncio.wait_for(done.wait(), timeout=5)
                except TimeoutError:
                    created = sum(o.payment is not None for o in self.orders)
                    paid = sum(o.paid_amount > 0 for o in self.orders)
                    self.say(f"load: {created}/{n} created, {paid} paid")

        done = asyncio.Event()
        ticker = asyncio.create_task(progress(done))
        try:
            await asyncio.gather(
                asyncio.gather(*(one(o) for o in self.orders)),
                faults(self) if faults is not None else asyncio.sleep(0),
            )
        finally:
            done.set()
            await ticker
        self.load_s = time.monotonic() - started
        created = sum(o.payment is not None for o in self.orders)
        paid = sum(o.paid_amount > 0 for o in self.orders)
        self.say(f"load done in {self.load_s:.1f} s: {created}/{n} created, {paid} paid")
        await self.revive()

    async def mid_create(self, min_s: float = 0.03, max_wait_s: float = 5) -> None:
        """Wait until some create has been in flight for `min_s` (so a fault hits a payment
        mid-flow: its workflow starting, its charge being created, its projection written)."""
        deadline = time.monotonic() + max_wait_s
        while time.monotonic() < deadline:
            now = time.monotonic()
            if any(now - t >= min_s for t in self.creating.values()):
                return
            await asyncio.sleep(0.01)

    async def revive(self) -> None:
        """What `make run`'s supervisor does: restart a cobro process that exited by itself
        (a finding worth a note: nothing in the scenario killed it)."""
        for role, code in self.stack.exited().items():
            self.notes.append(f"cobro {role} exited by itself (code {code}); restarted")
            self.fault(f"cobro {role} exited by itself with code {code}: restarting it")
            self.stack.start(role)
            if role == "api":
                await self.wait_api()

    async def wait_api(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if (await self.api.get("/healthz", timeout=3)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.3)
        raise TimeoutError(f"the API was not healthy {timeout_s} s after its restart")

    async def settle(self, also_done: Callable[[], Awaitable[bool]] | None = None) -> Report:
        started = time.monotonic()
        self.say(f"waiting for every payment to settle (at most {self.args.settle_s:.0f} s)")
        report = await settle(
            self.api,
            self.sim,
            self.orders,
            self.args.settle_s,
            fresh_stack=True,
            say=self.say,
            also_done=also_done,
        )
        self.settle_s = time.monotonic() - started
        self.say(f"settled in {self.settle_s:.1f} s: {report.summary()}")
        await self.find_failovers()
        return report

    async def find_failovers(self) -> None:
        """Payments that failed over to another PSP: expected only when PSPs fail."""
        gate = asyncio.Semaphore(10)

        async def one(payment_id: str) -> None:
            async with gate:
                got = await self.api.get(f"/v1/payments/{payment_id}/events")
            if got.status_code == 200 and any(e["type"] == "failover" for e in got.json()["data"]):
                self.failovers.append(payment_id)

        ids = [o.payment_id for o in self.orders if o.payment_id is not None]
        await asyncio.gather(*(one(i) for i in ids))
        if self.failovers:
            self.notes.append(f"{len(self.failovers)} payment(s) failed over to another PSP")
            self.say(self.notes[-1])
