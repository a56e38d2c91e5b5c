"""Mercado Pago's webhook signature, used by the receiver (verify) and the simulator (sign).

MP sends `x-signature: ts=<ts>,v1=<hex>` and `x-request-id: <uuid>`; `v1` is HMAC-SHA256 (hex),
keyed by the application's webhook secret, of the manifest
`id:<data.id>;request-id:<x-request-id>;ts:<ts>;` where `data.id` is the notification URL's
query parameter (lowercased when alphanumeric), and a part whose value is absent is left out.
The official SDK's `mercadopago.webhook.WebhookSignatureValidator` builds the same manifest
(tests/unit/test_mercadopago_signature.py holds the two to each other).

MP documents `ts` both as seconds and as milliseconds; a value of 10^12 or more is read as
milliseconds. MP mandates no tolerance, and whether its retries (every 15 minutes) are signed
afresh is not documented, so by default cobro checks none: a replayed notification can only make
cobro ask MP about the payment again (the event comes from MP's answer, confirmation.py).
"""

import hashlib
import hmac
import time

from cobro.psp.inbound import SignatureError as SignatureError  # the one shared class

MS_THRESHOLD = 10**12


def manifest(data_id: str | None, request_id: str | None, ts: str) -> str:
    parts = []
    if data_id:
        parts.append(f"id:{data_id.lower() if data_id.isalnum() else data_id}")
    if request_id:
        parts.append(f"request-id:{request_id}")
    parts.append(f"ts:{ts}")
    return ";".join(parts) + ";"


def compute(secret: str, data_id: str | None, request_id: str | None, ts: str) -> str:
    message = manifest(data_id, request_id, ts).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def sign(secret: str, data_id: str, request_id: str, timestamp: int | None = None) -> str:
    """The `x-signature` header MP would send for this notification."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    return f"ts={ts},v1={compute(secret, data_id, request_id, ts)}"


def verify(
    header: str | None,
    request_id: str | None,
    data_id: str | None,
    secret: str,
    tolerance_s: int | None = None,
    now: float | None = None,
) -> None:
    if not header or not header.strip():
        raise SignatureError("missing x-signature header")
    ts: str | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "ts":
            ts = value.strip()
        elif key.strip().lower() == "v1":
            candidates.append(value.strip())
    if ts is None or not ts.isdigit() or not candidates:
        raise SignatureError("x-signature needs ts=<digits> and v1=<hex>")
    expected = compute(secret, data_id, request_id, ts)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("v1 does not match the notification")
    if tolerance_s is None:
        return
    seconds = int(ts) / 1000 if int(ts) >= MS_THRESHOLD else int(ts)
    current = time.time() if now is None else now
    if abs(current - seconds) > tolerance_s:
        raise SignatureError(f"ts is outside the {tolerance_s} s tolerance")
