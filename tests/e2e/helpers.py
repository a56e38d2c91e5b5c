"""Small helpers for end-to-end tests that talk HTTP to the real processes."""

import asyncio
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db import merchants_repo

OXXO_BODY: dict[str, Any] = {
    "amount": 25_000,
    "currency": "MXN",
    "method": "oxxo",
    # Every field any PSP needs (Conekta: email and phone), so failover may reach any of them.
    "customer": {"name": "Ana López", "email": "ana@example.mx", "phone": "5512345678"},
    "description": "Order 1042",
    "metadata": {"order_id": "1042"},
    "expires_in": 259_200,
}


async def create(
    api: httpx.AsyncClient,
    body: dict[str, Any],
    key: str | None = None,
) -> httpx.Response:
    headers = {"Idempotency-Key": key or str(uuid.uuid4())}
    return await api.post("/v1/payments", json=body, headers=headers)


@asynccontextmanager
async def routed_merchant(
    api_url: str,
    sessions: async_sessionmaker[AsyncSession],
    name: str,
    routes: dict[str, list[str]],
    timeout_s: float = 30,
) -> AsyncIterator[httpx.AsyncClient]:
    """A new merchant whose payments go down `routes` (method -> PSPs in order), and an API
    client authenticated as it."""
    key = merchants_repo.new_api_key()
    async with sessions.begin() as session:
        await merchants_repo.create_merchant(session, name, key, routes=routes)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=timeout_s) as client:
        yield client


async def wait_for_status(
    api: httpx.AsyncClient, payment_id: str, status: str, timeout_s: float = 20
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    payment: dict[str, Any] = {}
    while time.monotonic() < deadline:
        payment = (await api.get(f"/v1/payments/{payment_id}")).json()
        if payment.get("status") == status:
            return payment
        await asyncio.sleep(0.1)
    raise AssertionError(
        f"payment {payment_id} is {payment.get('status')!r}, not {status!r}, after {timeout_s} s"
    )


async def events(api: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await api.get(f"/v1/payments/{payment_id}/events")).json()["data"]
    return data


async def charge(sim: httpx.AsyncClient, psp_reference: str) -> dict[str, Any]:
    """The simulator's ground truth for one charge."""
    charges = (await sim.get("/_sim/charges")).json()["data"]
    return next(c for c in charges if c["id"] == psp_reference)


async def wait_until(check: Any, what: str, timeout_s: float = 30) -> Any:
    """Poll an async `check()` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if result := await check():
            return result
        await asyncio.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout_s} s")


SPEI_BODY: dict[str, Any] = {**OXXO_BODY, "method": "spei"}


async def run_cli(env: dict[str, str], *args: str) -> list[str]:
    """Run `cobro ARGS` as a user would; its stdout lines (it must exit 0)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cobro.cli",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, stderr.decode()
    return stdout.decode().strip().splitlines()
