"""AES-256-GCM encryption of every Temporal payload cobro writes (workflow inputs and results,
activity arguments, signals, updates, queries, memos, summaries, failure messages), so what
Temporal stores, shows and exports without the codec is ciphertext.

An encrypted payload is

    metadata: {"encoding": "binary/encrypted", "encryption-key-id": "<key id>"}
    data:     12-byte random nonce || AES-GCM(key, serialized original payload, aad=key id)

The original payload (its own metadata and data) is serialized whole, so its encoding is
hidden too. Decoding picks the key by the id in the metadata; a payload that is not encrypted
(histories recorded before encryption, tests/histories) passes through unchanged. A payload
whose key id is unknown or whose ciphertext does not authenticate raises PayloadDecryptError:
the workflow task fails and is retried, so a missing key is a visible configuration error,
never silently wrong data.

Random 96-bit nonces keep a key safe for about 2^32 payloads (NIST SP 800-38D); rotate well
before that (cobro/payload_keys.py).
"""

import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

from cobro.payload_keys import KeyRing

ENCODING = b"binary/encrypted"
KEY_ID = "encryption-key-id"
NONCE_BYTES = 12


class PayloadDecryptError(ValueError):
    """An encrypted payload this codec cannot open (unknown key id, wrong key, tampered)."""


class EncryptionCodec(PayloadCodec):
    def __init__(self, ring: KeyRing) -> None:
        self._ciphers = {key_id: AESGCM(key) for key_id, key in ring.keys}
        self._encrypting_id = ring.encrypting_id
        self.key_ids = ring.ids

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt(p) for p in payloads]

    def encrypt(self, payload: Payload) -> Payload:
        key_id = self._encrypting_id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[key_id].encrypt(nonce, payload.SerializeToString(), key_id.encode())
        return Payload(
            metadata={"encoding": ENCODING, KEY_ID: key_id.encode()}, data=nonce + sealed
        )

    def decrypt(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCODING:
            return payload
        key_id = payload.metadata.get(KEY_ID, b"").decode(errors="replace")
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise PayloadDecryptError(
                f"payload encrypted with key {key_id!r}, which COBRO_PAYLOAD_KEYS does not hold "
                f"(it holds {self.key_ids})"
            )
        data = payload.data
        try:
            plain = cipher.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], key_id.encode())
        except InvalidTag:
            raise PayloadDecryptError(
                f"payload encrypted with key {key_id!r} does not authenticate: it was altered "
                "or that key id now names a different key"
            ) from None
        return Payload.FromString(plain)
