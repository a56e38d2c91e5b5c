"""The merchant's webhooks in a chaos run: every status event of every payment delivered, once,
signed and in order."""

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook

from bench.chaos_check import Finding
from bench.chaos_statuses import SUCCEEDED

EVENT_ID = re.compile(r"^evt_(?P<payment>pay_[0-9a-f]+)_(?P<seq>\d+)_(?P<type>[\w.]+)$")
STATUS_EVENTS = {
    "succeeded": "payment.succeeded",
    "expired": "payment.expired",
    "canceled": "payment.canceled",
    "failed": "payment.failed",
}


@dataclass(frozen=True)
class Delivery:
    """One HTTP request a merchant endpoint received: its body and headers."""

    body: bytes
    headers: dict[str, str]


def check_merchant_webhooks(
    received: list[Delivery], secret: str, payments: dict[str, dict[str, Any]]
) -> list[Finding]:
    """Every status event of every payment arrived, exactly once per delivery id, signed, and
    in order per payment (the event id carries the payment's transition seq).

    `payments` maps payment id -> the payment as the API shows it now."""
    webhook = Webhook(secret)
    findings: list[Finding] = []
    per_delivery: Counter[str] = Counter()
    per_payment: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for r in received:
        delivery_id = r.headers.get("webhook-id", "")
        per_delivery[delivery_id] += 1
        if per_delivery[delivery_id] > 1:
            continue  # counted below
        try:
            event = webhook.verify(r.body, r.headers)
        except Exception as exc:  # standardwebhooks raises its own WebhookVerificationError
            findings.append(Finding("wrong", None, f"delivery {delivery_id}: bad signature {exc}"))
            continue
        match = EVENT_ID.match(str(event.get("id", "")))
        if match is None:
            findings.append(Finding("wrong", None, f"unexpected event id {event.get('id')!r}"))
            continue
        per_payment[match["payment"]].append((int(match["seq"]), match["type"], delivery_id))
    for delivery_id, count in per_delivery.items():
        if count > 1:
            findings.append(
                Finding("doubled", None, f"delivery {delivery_id} received {count} times")
            )
    for payment_id, payment in payments.items():
        got = per_payment.get(payment_id, [])
        seqs = [seq for seq, _, _ in got]  # a refund's event shares its late payment's seq
        if seqs != sorted(seqs):
            findings.append(
                Finding("wrong", payment_id, f"events out of order: {[(s, t) for s, t, _ in got]}")
            )
        events = Counter((seq, kind) for seq, kind, _ in got)
        for (seq, kind), count in events.items():
            if count > 1:
                findings.append(
                    Finding("doubled", payment_id, f"event {seq} {kind} in {count} deliveries")
                )
        expected = STATUS_EVENTS.get(payment["status"])
        if expected is None and payment["status"] in SUCCEEDED:
            expected = "payment.succeeded"
        if expected is None:
            continue
        matching = {seq for seq, kind, _ in got if kind == expected}
        if not matching:
            findings.append(Finding("lost", payment_id, f"no {expected} received"))
        elif len(matching) > 1:
            findings.append(
                Finding("doubled", payment_id, f"{len(matching)} different {expected} events")
            )
    return findings
