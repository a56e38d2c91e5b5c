"""A merchant's webhook endpoint for tests: a real HTTP server on a free port that records what
it receives and can be told to fail (answer 503) for a while."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.stack import free_port


@dataclass
class Received:
    body: bytes
    headers: dict[str, str]


@dataclass
class MerchantReceiver:
    port: int
    received: list[Received] = field(default_factory=list)
    failing: bool = False
    refused: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    async def handle(self, request: Request) -> Response:
        if self.failing:
            self.refused += 1
            return Response("down for maintenance", status_code=503)
        self.received.append(Received(await request.body(), dict(request.headers)))
        return Response(status_code=204)


@contextlib.asynccontextmanager
async def merchant_receiver() -> AsyncIterator[MerchantReceiver]:
    receiver = MerchantReceiver(free_port())
    app = Starlette(routes=[Route("/hooks", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=receiver.port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
