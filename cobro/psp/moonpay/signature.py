"""MoonPay's webhook signature, used by the receiver (verify) and the simulator (sign).

As dev.moonpay.com documents it (Platform webhooks, "Verify the signature"): MoonPay sends
`Moonpay-Signature-V2: t=<unix>,s=<hex>`, where `s` is the lowercase hex HMAC-SHA256 of
`"{t}.{raw body}"` keyed with the account's webhook API key; compare in constant time, on the
raw bytes (a re-serialised body would not match). A legacy `Moonpay-Signature` header is also
sent; only V2 is checked. MoonPay documents no tolerance for `t`: cobro applies Stripe's 300 s,
which rejects replays of old deliveries (MoonPay signs each retry afresh).
"""

import hashlib
import hmac
import time

from cobro.psp.inbound import SignatureError as SignatureError  # the one shared class

HEADER = "Moonpay-Signature-V2"
DEFAULT_TOLERANCE_S = 300


def compute(payload: bytes, key: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(key.encode(), signed, hashlib.sha256).hexdigest()


def sign(payload: bytes, key: str, timestamp: int | None = None) -> str:
    """The `Moonpay-Signature-V2` header value MoonPay would send for this body."""
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},s={compute(payload, key, t)}"


def verify(
    payload: bytes,
    header: str | None,
    key: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    parts: dict[str, str] = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep and name in ("t", "s") and name not in parts:
            parts[name] = value
    t, s = parts.get("t", ""), parts.get("s", "")
    if not t or not s:
        raise SignatureError(f"{HEADER} needs t= and s=")
    if not t.isdigit():
        raise SignatureError(f"{HEADER} timestamp is not an integer")
    timestamp = int(t)
    expected = compute(payload, key, timestamp).encode()
    if not hmac.compare_digest(expected, s.encode("utf-8", "replace")):
        raise SignatureError("the signature does not match the payload")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(f"timestamp is outside the {tolerance_s} s tolerance")
