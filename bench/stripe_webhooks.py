"""Stripe webhooks that `make bench` and the chaos scenarios send themselves: the PaymentIntent as
the simulator has it, the event the simulated Stripe would send for it, signed, and its delivery
as Stripe delivers (retried until a 2xx)."""

import asyncio
import json
import secrets
import time
from typing import Any

import httpx

from bench.chaos_orders import Tally
from cobro.psp.stripe import signature
from cobro.settings import SIMULATOR_STRIPE_API_KEY, SIMULATOR_STRIPE_WEBHOOK_SECRET

STRIPE_API_VERSION = "2024-06-20"  # what simulator/state.py stamps on its events

STRIPE_AUTH = {"Authorization": f"Bearer {SIMULATOR_STRIPE_API_KEY}"}


async def stripe_intent(sim: httpx.AsyncClient, intent_id: str) -> dict[str, Any]:
    response = await sim.get(f"/stripe/v1/payment_intents/{intent_id}", headers=STRIPE_AUTH)
    response.raise_for_status()
    intent: dict[str, Any] = response.json()
    return intent


def stripe_webhook(intent: dict[str, Any], event_id: str | None = None) -> bytes:
    """The event the simulated Stripe sends for this PaymentIntent's status (same shape as
    simulator/state.py's), to be signed per attempt with `stripe_headers`."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": STRIPE_API_VERSION,
        "created": int(time.time()),
        "data": {"object": intent},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": f"payment_intent.{intent['status']}",
    }
    return json.dumps(event).encode()


def stripe_headers(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Stripe-Signature": signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET),
    }


async def send_stripe_webhook(
    api: httpx.AsyncClient, body: bytes, tally: Tally, give_up_s: float = 120
) -> bool:
    """POST /webhooks/stripe as Stripe does: retried until a 2xx; every answer is tallied."""
    deadline = time.monotonic() + give_up_s
    while True:
        response: httpx.Response | None = None
        try:
            response = await api.post(
                "/webhooks/stripe", content=body, headers=stripe_headers(body)
            )
        except httpx.HTTPError as exc:
            tally.failed("webhook", exc)
        else:
            tally.record("webhook", response)
            if 200 <= response.status_code < 300:
                return True
            if response.status_code < 500:
                return False
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)
