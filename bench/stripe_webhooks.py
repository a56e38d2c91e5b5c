"""Stripe webhooks that `make bench` and the chaos scenarios send themselves: the PaymentIntent as
the simulator has it, the event the simulated Stripe would send for it (simulator/stripe_events.py),
signed, and its delivery as Stripe delivers (retried until a 2xx)."""

import asyncio
import time
from typing import Any

import httpx

from bench.chaos_orders import Tally
from cobro.psp.stripe.config import SIMULATOR_STRIPE_API_KEY, SIMULATOR_STRIPE_WEBHOOK_SECRET
from simulator import stripe_events

STRIPE_AUTH = {"Authorization": f"Bearer {SIMULATOR_STRIPE_API_KEY}"}


async def stripe_intent(sim: httpx.AsyncClient, intent_id: str) -> dict[str, Any]:
    response = await sim.get(f"/stripe/v1/payment_intents/{intent_id}", headers=STRIPE_AUTH)
    response.raise_for_status()
    intent: dict[str, Any] = response.json()
    return intent


def stripe_webhook(intent: dict[str, Any], event_id: str | None = None) -> bytes:
    """The event the simulated Stripe sends for this PaymentIntent's status, to be signed per
    attempt with `stripe_headers`."""
    return stripe_events.event_body(f"payment_intent.{intent['status']}", intent, event_id=event_id)


def stripe_headers(body: bytes) -> dict[str, str]:
    """One delivery's headers, signed now with the simulator's webhook secret."""
    return stripe_events.signed_headers(body, SIMULATOR_STRIPE_WEBHOOK_SECRET)


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
