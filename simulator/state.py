"""What the simulator process holds: settings, the ledger, and the webhook sender."""

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from cobro.psp.conekta import signature as conekta_signature
from cobro.settings import Settings
from simulator import stripe_events
from simulator.chaos import Chaos
from simulator.delivery import WebhookSender
from simulator.ledger import Ledger
from simulator.rate_limits import RateLimiter


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
    rate_limits: RateLimiter = field(default_factory=RateLimiter)  # PUT /_sim/rate_limits
    # PUT /_sim/oxxo_expiry (benches only): the moment (unix s) every OXXO voucher created from
    # now on expires, instead of 23:59 on its last day: a herd of vouchers in minutes.
    oxxo_expires_at: int | None = None
    # How the next refunds of a charge come out (POST /_sim/refunds/plan), by charge reference:
    # "pending" (or Stripe's "requires_action") holds them until POST /_sim/refunds/{id};
    # "rejected" makes the PSP's API refuse them. Refunds with no plan settle at once.
    refund_plans: dict[str, list[str]] = field(default_factory=dict)
    _conekta_key: rsa.RSAPrivateKey | None = None

    def next_refund_outcome(self, charge_reference: str) -> str | None:
        plan = self.refund_plans.get(charge_reference)
        return plan.pop(0) if plan else None

    def conekta_private_key(self) -> rsa.RSAPrivateKey:
        """Conekta's webhook signing key, kept in the data dir so restarts keep it."""
        if self._conekta_key is None:
            path = self.settings.cobro_data_dir / "simulator-conekta-webhook-key.pem"
            if path.exists():
                key = serialization.load_pem_private_key(path.read_bytes(), password=None)
                assert isinstance(key, rsa.RSAPrivateKey)
            else:
                key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                path.write_bytes(
                    key.private_bytes(
                        serialization.Encoding.PEM,
                        serialization.PrivateFormat.PKCS8,
                        serialization.NoEncryption(),
                    )
                )
            self._conekta_key = key
        return self._conekta_key

    def conekta_public_key_pem(self) -> str:
        return (
            self.conekta_private_key()
            .public_key()
            .public_bytes(
                serialization.Encoding.PEM,
                serialization.PublicFormat.SubjectPublicKeyInfo,
            )
            .decode()
        )

    def send_conekta_event(self, event_type: str, obj: dict[str, Any]) -> None:
        event = {
            "id": secrets.token_hex(12),
            "object": "event",
            "type": event_type,
            "created_at": int(time.time()),
            "livemode": False,
            "data": {"object": obj, "previous_attributes": {}},
            "webhook_status": "pending",
            "webhook_logs": [],
        }
        key = self.conekta_private_key()
        body = json.dumps(event).encode()
        self.deliver("conekta", body, lambda body: {"Digest": conekta_signature.sign(body, key)})

    def send_stripe_event(
        self, event_type: str, obj: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> None:
        """`previous`: `data.previous_attributes`, which Stripe sends with `*.updated` events."""
        secret = self.settings.stripe_webhook_secret.get_secret_value()
        assert secret is not None  # filled in by Settings in simulator mode
        body = stripe_events.event_body(event_type, obj, previous=previous)
        self.deliver("stripe", body, lambda body: stripe_events.signed_headers(body, secret))

    def deliver(
        self,
        psp: str,
        body: bytes,
        sign: Callable[[bytes], dict[str, str]],
        on_delivered: Callable[[httpx.Response], None] | None = None,
        path: str | None = None,
    ) -> int:
        """POST `body` to cobro's /webhooks/{psp} in the background, as many times and as late
        as the chaos settings say (`sign`: fresh headers per attempt; `path` another receiver
        than /webhooks/{psp}); how many copies."""
        delays = self.chaos.webhook_delays()
        for delay_s in delays:
            self.sender.send(
                f"{self.settings.webhook_base_url}/webhooks/{path or psp}",
                body,
                sign,
                delay_s,
                on_delivered,
            )
        return len(delays)
