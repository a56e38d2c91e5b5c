"""Small helpers for end-to-end tests that talk HTTP to the real processes."""

import asyncio
import time
import uuid
from typing import Any

import httpx

OXXO_BODY: dict[str, Any] = {
    "amount": 25_000,
    "currency": "MXN",
    "method": "oxxo",
    "customer": {"name": "Ana López", "email": "ana@example.mx"},
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
