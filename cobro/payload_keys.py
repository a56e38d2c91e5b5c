"""The keys that encrypt Temporal payloads (cobro/payload_codec.py), and the codec server's token.

`COBRO_PAYLOAD_KEYS` is a comma-separated list of `id:key` pairs, oldest first:

    COBRO_PAYLOAD_KEYS="k2026a:<base64 of 32 bytes>,k2026b:<base64 of 32 bytes>"

`id` is 1-64 characters of `A-Z a-z 0-9 . _ -` and is written, in clear, into the metadata of
every payload it encrypts; `key` is 32 random bytes (AES-256) in standard or URL-safe base64.
The last pair encrypts new payloads, every pair decrypts, so a key is rotated by appending a new
one and retired only once no history that needs it is kept. A fresh pair:
`python -m cobro.payload_keys [ID]`.

Outside live mode, with COBRO_PAYLOAD_KEYS unset, the keys are read from
`$COBRO_DATA_DIR/payload-keys` (same format), which the first process to need one creates; the
codec server's token likewise comes from COBRO_CODEC_TOKEN or `$COBRO_DATA_DIR/codec-token`.
Settings checks COBRO_PAYLOAD_KEYS with this module, so it imports neither Settings nor Temporal.
"""

import base64
import binascii
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

KEY_BYTES = 32
KEYS_FILE = "payload-keys"
TOKEN_FILE = "codec-token"  # noqa: S105 (a file name)
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class KeyRing:
    """Key ids and their keys, oldest first; the last one encrypts."""

    keys: tuple[tuple[str, bytes], ...]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("a key ring needs at least one key")
        ids = [key_id for key_id, _ in self.keys]
        if len(set(ids)) != len(ids):
            raise ValueError(f"key ids must be unique, got {ids}")

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing(ids={self.ids})"

    @property
    def ids(self) -> list[str]:
        return [key_id for key_id, _ in self.keys]

    @property
    def encrypting_id(self) -> str:
        return self.keys[-1][0]

    def format(self) -> str:
        """The COBRO_PAYLOAD_KEYS text of this ring."""
        return ",".join(f"{key_id}:{base64.b64encode(key).decode()}" for key_id, key in self.keys)

    def with_key(self, key_id: str, key: bytes) -> "KeyRing":
        """This ring with a newer key, which then encrypts (a rotation)."""
        return KeyRing((*self.keys, (key_id, key)))


def parse_keys(text: str) -> KeyRing:
    """A ring from COBRO_PAYLOAD_KEYS text; ValueError naming the faulty entry by its id or
    position, never echoing key material."""
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate((e.strip() for e in text.split(",")), start=1):
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.fullmatch(key_id):
            raise ValueError(
                f"COBRO_PAYLOAD_KEYS entry {position} is not `id:base64key` with an id of "
                "1-64 letters, digits, '.', '_' or '-'"
            )
        keys.append((key_id, _decode_key(key_id, encoded.strip())))
    if not keys:
        raise ValueError("COBRO_PAYLOAD_KEYS holds no key")
    return KeyRing(tuple(keys))


def _decode_key(key_id: str, encoded: str) -> bytes:
    try:
        key = base64.b64decode(encoded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"COBRO_PAYLOAD_KEYS key {key_id!r} is not valid base64") from None
    if len(key) != KEY_BYTES:
        raise ValueError(
            f"COBRO_PAYLOAD_KEYS key {key_id!r} is {len(key)} bytes; AES-256 needs {KEY_BYTES}"
        )
    return key


def new_key_entry(key_id: str | None = None) -> str:
    """One fresh `id:base64key` pair, to append to COBRO_PAYLOAD_KEYS."""
    key_id = key_id or f"k{datetime.now(UTC):%Y%m%d}-{secrets.token_hex(2)}"
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError(f"{key_id!r} is not a valid key id")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def read_or_create(path: Path, content: str) -> str:
    """The file's text, or `content` written there first. Atomic when several processes start
    together: each writes its own temporary file and links it into place; who loses reads the
    winner's. Mode 0600."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(content + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
    return path.read_text().strip()


def key_ring(configured: str, data_dir: Path, live: bool) -> KeyRing:
    """COBRO_PAYLOAD_KEYS (`configured`), or outside live mode the dev ring in the data dir,
    made on first use. Live mode without keys is an error (Settings already refuses it)."""
    if configured:
        return parse_keys(configured)
    if live:
        raise ValueError("COBRO_PSP_MODE=live needs COBRO_PAYLOAD_KEYS")
    return parse_keys(read_or_create(data_dir / KEYS_FILE, new_key_entry("dev1")))


def codec_token(configured: str, data_dir: Path, live: bool) -> str:
    """COBRO_CODEC_TOKEN (`configured`), or outside live mode the dev token in the data dir,
    made on first use."""
    if configured:
        return configured
    if live:
        raise ValueError("COBRO_PSP_MODE=live needs COBRO_CODEC_TOKEN for the codec server")
    return read_or_create(data_dir / TOKEN_FILE, secrets.token_urlsafe(32))


if __name__ == "__main__":
    import sys

    print(new_key_entry(sys.argv[1] if len(sys.argv) > 1 else None))
