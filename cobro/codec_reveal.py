"""What the codec server adds after decrypting: customer details sealed under a payment's own data
key (cobro/privacy/sealing.py) are opened with that key from PostgreSQL, so ops read them in the
Web UI and the CLI; once erasure deleted the key they show as `[erased]`.

Keys are looked up per request (one query per payment, whatever its number of payloads) and
never kept longer, so an erasure holds from the next request on.
"""

import json
import logging
from typing import Any

from cryptography.fernet import InvalidToken
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.api.common.v1 import Payload

from cobro.codec_server import Reveal
from cobro.db import privacy_repo
from cobro.privacy import sealing
from cobro.secret_box import SecretBox

log = logging.getLogger("cobro.codec_server")
JSON = b"json/plain"


def sealed_details_revealer(sessions: async_sessionmaker[AsyncSession], box: SecretBox) -> Reveal:
    async def reveal(payloads: list[Payload]) -> list[Payload]:
        keys: dict[str, bytes | None] = {}

        async def key_of(payment_id: str) -> bytes | None:
            if payment_id not in keys:
                async with sessions() as session:
                    keys[payment_id] = await privacy_repo.key_of(session, box, payment_id)
            return keys[payment_id]

        return [await _opened(payload, key_of) for payload in payloads]

    return reveal


async def _opened(payload: Payload, key_of: sealing.KeyLookup) -> Payload:
    if payload.metadata.get("encoding") != JSON or sealing.PREFIX.encode() not in payload.data:
        return payload
    try:
        value: Any = json.loads(payload.data)
        opened = await sealing.reveal(value, key_of)
    except ValueError as exc:  # not JSON after all, or a sealed value its key does not open
        log.warning("left a sealed value closed: %s", exc)
        return payload
    except (SQLAlchemyError, OSError, InvalidToken) as exc:  # keys unreadable just now
        log.warning("left a sealed value closed, its key could not be read: %r", exc)
        return payload
    return Payload(
        metadata=dict(payload.metadata),
        data=json.dumps(opened, ensure_ascii=False, separators=(",", ":")).encode(),
    )
