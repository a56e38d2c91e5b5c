"""A flood of signed Stripe webhooks, as its own process so that the test measuring the other
PSPs' webhooks meanwhile does not share an event loop with it.

`python -m tests.e2e.stripe_flood URL RUN SENDERS SECONDS`: SENDERS senders each send a new
event once the last one was acknowledged, re-sending it after a 503 as Stripe would, for SECONDS;
prints `flooding` once it has
flooded for WARM_UP_S, then one JSON line: the acknowledged event ids, the 503s
and the connection errors.
"""

import asyncio
import json
import sys
import time
from typing import Any

import httpx

from cobro.psp.stripe.config import SIMULATOR_STRIPE_WEBHOOK_SECRET
from simulator import stripe_events

RETRY_PAUSE_S = 0.05
WARM_UP_S = 1.0


def event(run: str, n: int) -> tuple[str, bytes]:
    event_id = f"evt_flood_{run}_{n}"
    intent = {
        "id": f"pi_flood_{run}_{n}",  # no such payment: kept for ops
        "object": "payment_intent",
        "status": "succeeded",
        "amount": 25_000,
        "amount_received": 25_000,
        "metadata": {},
    }
    return event_id, stripe_events.event_body("payment_intent.succeeded", intent, event_id=event_id)


async def flood(url: str, run: str, senders: int, seconds: float) -> dict[str, Any]:
    acked: list[str] = []
    busy: list[dict[str, Any]] = []
    errors: list[str] = []
    counter = iter(range(10**9))
    until = time.monotonic() + seconds

    async def sender(client: httpx.AsyncClient) -> None:
        while time.monotonic() < until:
            event_id, body = event(run, next(counter))
            while True:  # the same event again until it is acknowledged
                headers = stripe_events.signed_headers(body, SIMULATOR_STRIPE_WEBHOOK_SECRET)
                try:
                    answer = await client.post("/webhooks/stripe", content=body, headers=headers)
                except httpx.TransportError as exc:  # not acknowledged: send it again
                    errors.append(repr(exc))
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                if answer.status_code == 200:
                    acked.append(event_id)
                    break
                busy.append(
                    {
                        "status": answer.status_code,
                        "content_type": answer.headers.get("content-type"),
                        "retry_after": answer.headers.get("retry-after"),
                        "type": answer.json().get("type"),
                    }
                )
                await asyncio.sleep(RETRY_PAUSE_S)

    async def announce() -> None:
        await asyncio.sleep(WARM_UP_S)
        print("flooding", flush=True)

    limits = httpx.Limits(max_connections=senders, max_keepalive_connections=senders)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(announce(), *(sender(client) for _ in range(senders)))
    return {"acked": acked, "busy": busy, "errors": errors}


if __name__ == "__main__":
    url, run, senders, seconds = sys.argv[1:5]
    print(json.dumps(asyncio.run(flood(url, run, int(senders), float(seconds)))), flush=True)
