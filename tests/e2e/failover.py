"""What stands in front of several API processes in tests/e2e/test_replicas.py.

- `Failover`: the merchant's HTTP client (an httpx transport) sending each request to the next
  API in turn, and one that cannot be reached, or drops the connection before answering, again
  to the next: the request carries its Idempotency-Key (webhooks their event id), so a retry
  never acts twice.
- `Balancer`: the load balancer a PSP's webhooks reach the APIs through, a round-robin TCP proxy
  that skips an API refusing connections. A connection cut mid-request is the PSP's to retry, as
  real PSPs do (the simulator retries until a 2xx).
"""

import asyncio
import contextlib
from collections import Counter

import httpx


class Failover(httpx.AsyncBaseTransport):
    def __init__(self, urls: list[str]) -> None:
        self._targets = [httpx.URL(url) for url in urls]
        self._inner = httpx.AsyncHTTPTransport()
        self._next = 0
        self.retried: Counter[str] = Counter()  # "<url> <error>": requests sent on elsewhere

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # the body, so that it can be sent again
        for attempt in range(len(self._targets)):
            target = self._targets[self._next % len(self._targets)]
            self._next += 1
            request.url = request.url.copy_with(host=target.host, port=target.port)
            request.headers["Host"] = f"{target.host}:{target.port}"
            try:
                return await self._inner.handle_async_request(request)
            except httpx.TransportError as exc:
                if attempt == len(self._targets) - 1:
                    raise
                self.retried[f"{target} {type(exc).__name__}"] += 1
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        await self._inner.aclose()


class Balancer:
    def __init__(self) -> None:
        self.backends: list[int] = []  # ports on 127.0.0.1, set once the APIs have theirs
        self.refused: Counter[int] = Counter()
        self.open: Counter[int] = Counter()  # connections piped to each backend right now
        self._next = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> str:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        for _ in range(len(self.backends)):
            port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                backend_r, backend_w = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                self.refused[port] += 1
                continue
            self.open[port] += 1
            try:
                await asyncio.gather(_pipe(client_r, backend_w), _pipe(backend_r, client_w))
            finally:
                self.open[port] -= 1
            return
        client_w.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 5)


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until either side is gone, then close the other: a killed API's connections close
    on the PSP's side too, which then retries."""
    try:
        while chunk := await source.read(65536):
            sink.write(chunk)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        sink.close()
