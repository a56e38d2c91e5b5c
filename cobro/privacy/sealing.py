"""Customer details sealed under a payment's own data key (AES-256-GCM), for crypto-shredding.

What the workflow carries of the customer (PaymentInput.private) is one sealed string; the key
lives only in PostgreSQL (payment_keys, itself sealed with COBRO_SECRET_KEY). Erasure deletes
the key: every copy of the sealed string, in Temporal history and its exports, is then noise.
The codec server reveals sealed strings for ops while the key exists, else shows ERASED.
"""

import base64
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cobro.domain.payment import Customer

PREFIX = "cobro-sealed:v1:"
ERASED = "[erased]"
# What a payment's customer shows once erased: every field of Customer cleared, derived from
# the model so that a field added to it is erased too.
ERASED_CUSTOMER: dict[str, Any] = {field: None for field in Customer.model_fields} | {
    "name": ERASED
}
KeyLookup = Callable[[str], Awaitable[bytes | None]]  # payment id -> its data key, if any


def is_erased(customer: dict[str, Any]) -> bool:
    """The stored customer was erased (also in the shape erasure wrote before a field existed:
    the name ERASED and nothing else)."""
    return customer.get("name") == ERASED and not any(
        customer.get(field) for field in Customer.model_fields if field != "name"
    )


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, payment_id: str, data: dict[str, Any]) -> str:
    """`cobro-sealed:v1:<payment id>:<base64 nonce + ciphertext>`; the payment id is bound in
    as associated data, so a sealed value cannot be moved to another payment."""
    nonce = os.urandom(12)
    plain = json.dumps(data, separators=(",", ":")).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, payment_id.encode())
    return f"{PREFIX}{payment_id}:{base64.b64encode(nonce + sealed).decode()}"


def payment_of(value: str) -> str | None:
    """The payment a sealed value belongs to, or None when it is not one."""
    if not value.startswith(PREFIX):
        return None
    payment_id, sep, _ = value[len(PREFIX) :].partition(":")
    return payment_id if sep else None


def unseal(key: bytes, value: str) -> dict[str, Any]:
    """The sealed details; ValueError when the value or the key is wrong."""
    payment_id = payment_of(value)
    if payment_id is None:
        raise ValueError("not a sealed value")
    raw = base64.b64decode(value.rsplit(":", 1)[1])
    try:
        plain = AESGCM(key).decrypt(raw[:12], raw[12:], payment_id.encode())
    except InvalidTag as exc:
        raise ValueError(f"sealed value of {payment_id} does not open with its key") from exc
    data: dict[str, Any] = json.loads(plain)
    return data


async def reveal(value: Any, lookup: KeyLookup) -> Any:
    """`value` (decoded JSON) with every sealed string replaced by what it seals, or by ERASED
    where the payment's key is gone."""
    if isinstance(value, str):
        payment_id = payment_of(value)
        if payment_id is None:
            return value
        key = await lookup(payment_id)
        return unseal(key, value) if key is not None else ERASED
    if isinstance(value, list):
        return [await reveal(item, lookup) for item in value]
    if isinstance(value, dict):
        return {name: await reveal(item, lookup) for name, item in value.items()}
    return value
