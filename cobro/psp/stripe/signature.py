"""Stripe's webhook signature scheme, used by the receiver (verify) and the simulator (sign).

Stripe signs `"{t}.{raw_body}"` with HMAC-SHA256 keyed by the whole `whsec_...` string and sends
`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`; several v1 entries appear while a secret
rotates and any one may match. Tolerance is 300 s (stripe-python `Webhook.DEFAULT_TOLERANCE`).
"""

import hashlib
import hmac
import time

from cobro.psp.inbound import SignatureError as SignatureError  # the one shared class

DEFAULT_TOLERANCE_S = 300


def compute(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header value Stripe would send for this body."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute(payload, secret, t)}"


def verify(
    payload: bytes,
    header: str | None,
    secret: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    if not header:
        raise SignatureError("missing Stripe-Signature header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                raise SignatureError("Stripe-Signature timestamp is not an integer") from None
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError("Stripe-Signature needs t= and at least one v1=")
    expected = compute(payload, secret, timestamp)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise SignatureError("no v1 signature matches the payload")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp is outside the {tolerance_s} s tolerance")
