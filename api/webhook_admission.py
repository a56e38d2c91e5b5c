"""Fair admission for the PSP webhook receivers: a flood from one PSP cannot starve the others.

Each PSP's receiver, in each API process, stores at most `concurrency` events at once (each
holds a database connection while it matches and stores its event, STP's while STP confirms);
up to `queue` more wait at most WAIT_S for a turn, holding nothing but their HTTP connection, so
a burst (a PSP catching up after an outage) waits rather than fails. Beyond that, a flood, the
answer is 503 with Retry-After before anything is stored: the PSP keeps the event and sends it
again, so nothing acknowledged is ever dropped. The caps are per process because what they
protect (the connection pool, the event loop) is per process.

The signature (or STP's channel) is checked before a turn is taken, so forged requests never
occupy a PSP's turns.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.problems import Problem

WAIT_S = 5.0  # a turn comes within this, or the answer is 503
RETRY_AFTER_S = 5


class WebhookAdmission:
    def __init__(self, concurrency: int, queue: int, wait_s: float = WAIT_S) -> None:
        self.concurrency, self.queue, self.wait_s = concurrency, queue, wait_s
        self._turns: dict[str, asyncio.Semaphore] = {}
        self._waiting: Counter[str] = Counter()

    def _busy(self, psp: str) -> Problem:
        return Problem(
            503,
            f"Too many {psp} webhooks at once; the event was not stored, send it again.",
            "webhooks-busy",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    @asynccontextmanager
    async def turn(self, psp: str) -> AsyncIterator[None]:
        """A turn to store one of `psp`'s events; raises the 503 Problem when there is none.
        `psp` is one of the receivers' fixed names, so the table stays small."""
        turns = self._turns.setdefault(psp, asyncio.Semaphore(self.concurrency))
        if turns.locked():
            if self._waiting[psp] >= self.queue:
                raise self._busy(psp)
            self._waiting[psp] += 1
            try:
                await asyncio.wait_for(turns.acquire(), self.wait_s)
            except TimeoutError:
                raise self._busy(psp) from None
            finally:
                self._waiting[psp] -= 1
        else:
            await turns.acquire()
        try:
            yield
        finally:
            turns.release()
