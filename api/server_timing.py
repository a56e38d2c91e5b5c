"""`Server-Timing: app;dur=<ms>` on every response: the time cobro spent from receiving the
request to sending its response headers, so a client (or `make bench`) can tell cobro's own
latency from time spent queueing for the CPU, on the network or in the client."""

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class ServerTiming:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def send_timed(message: Message) -> None:
            if message["type"] == "http.response.start":
                spent = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
                headers = [*message.get("headers", []), (b"server-timing", spent.encode())]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_timed)
