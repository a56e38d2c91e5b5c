"""What the simulator process holds: settings, the ledger, and the webhook sender."""

import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cobro.psp.stripe import signature
from cobro.settings import Settings
from simulator.chaos import Chaos
from simulator.delivery import WebhookSender
from simulator.ledger import Ledger

STRIPE_API_VERSION = "2024-06-20"


def now_utc() -> datetime:
    return datetime.now(UTC)


@dataclass
class SimState:
    settings: Settings
    ledger: Ledger
    sender: WebhookSender

    @property
    def public_url(self) -> str:
        return self.settings.simulator_url

    chaos: Chaos = field(default_factory=Chaos)

    def send_stripe_event(self, event_type: str, obj: dict[str, Any]) -> None:
        event = {
            "id": f"evt_{secrets.token_hex(12)}",
            "object": "event",
            "api_version": STRIPE_API_VERSION,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        secret = self.settings.stripe_webhook_secret
        assert secret is not None  # filled in by Settings in simulator mode
        body = json.dumps(event).encode()
        for delay_s in self.chaos.webhook_delays():
            self.sender.send(
                f"{self.settings.webhook_base_url}/webhooks/stripe",
                body,
                lambda body: {"Stripe-Signature": signature.sign(body, secret)},
                delay_s,
            )
