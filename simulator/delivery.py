"""Sends signed webhooks to cobro and retries on anything but 2xx, as a real PSP does."""

import asyncio
import logging
from collections.abc import Callable

import httpx

log = logging.getLogger("simulator.delivery")

MAX_BACKOFF_S = 30.0
# Deliveries in flight at once, as a PSP limits them per endpoint. Without a limit, thousands of
# queued requests made httpx's pool quadratic (`make bench-scale`: 5,000 payments paid at once).
MAX_IN_FLIGHT = 50


class WebhookSender:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    def send(
        self,
        url: str,
        body: bytes,
        sign: Callable[[bytes], dict[str, str]],
        delay_s: float = 0,
        on_delivered: Callable[[httpx.Response], None] | None = None,
    ) -> None:
        """Deliver in the background; `sign` makes fresh headers per attempt (new timestamp);
        `on_delivered` sees the 2xx answer (STP acts on what cobro answers)."""
        task = asyncio.create_task(self._deliver(url, body, sign, delay_s, on_delivered))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(
        self,
        url: str,
        body: bytes,
        sign: Callable[[bytes], dict[str, str]],
        delay_s: float,
        on_delivered: Callable[[httpx.Response], None] | None,
    ) -> None:
        await asyncio.sleep(delay_s)
        backoff = 0.2
        attempt = 0
        while True:
            attempt += 1
            headers = {"Content-Type": "application/json", **sign(body)}
            try:
                async with self._in_flight:
                    response = await self._http.post(url, content=body, headers=headers)
                if 200 <= response.status_code < 300:
                    if on_delivered is not None:
                        on_delivered(response)
                    return
                log.warning(
                    "webhook to %s got HTTP %s (attempt %d), retrying",
                    url,
                    response.status_code,
                    attempt,
                )
            except httpx.HTTPError as exc:
                log.warning("webhook to %s failed: %r (attempt %d), retrying", url, exc, attempt)
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)

    def cancel_all(self) -> None:
        for task in self._tasks:
            task.cancel()
