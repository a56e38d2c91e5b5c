"""What the parts of the simulated MoonPay share (simulator/moonpay_api.py): its error body,
the API-key check and chaos every server call goes through, MoonPay's timestamps and the
background steps that POST /_sim/reset cancels."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from simulator.state import SimState

_tasks: set[asyncio.Task[None]] = set()


class MoonpayError(Exception):
    def __init__(self, status: int, code: str, message: str, type_: str = "BadRequestError"):
        self.status, self.code, self.message, self.type = status, code, message, type_


def error_response(exc: MoonpayError) -> JSONResponse:
    body = {"moonPayErrorCode": exc.code, "message": exc.message, "type": exc.type, "errors": []}
    return JSONResponse(body, status_code=exc.status)


def reset() -> None:
    """No step of any journey still pending (POST /_sim/reset)."""
    for task in _tasks:
        task.cancel()


def spawn(coroutine: Any) -> None:
    task = asyncio.create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def start_call(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    api_key = state.settings.moonpay_api_key.get_secret_value()
    if request.headers.get("authorization") != f"Api-Key {api_key}":
        raise MoonpayError(401, "4_SYS_UNAUTHORIZED", "Invalid API key", "UnauthorizedError")
    if not state.rate_limits.allow("moonpay"):
        raise MoonpayError(429, "4_SYS_TOO_MANY_REQUESTS", "Too many requests")
    if await state.chaos.before_api_call("moonpay"):
        raise MoonpayError(503, "5_SYS_UNAVAILABLE", "Simulated outage: nothing was done.")
    return state


def lost(state: SimState) -> None:
    if state.chaos.lose_response("moonpay"):
        raise MoonpayError(503, "5_SYS_UNAVAILABLE", "Simulated lost response: it was done.")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
