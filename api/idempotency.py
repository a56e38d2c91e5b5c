"""Idempotency-Key handling shared by every endpoint that creates something."""

import hashlib
import json

from pydantic import BaseModel


def request_hash_of(body: BaseModel) -> str:
    """What an Idempotency-Key is bound to: the request body, canonically serialised."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
