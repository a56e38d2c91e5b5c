"""Request dependencies: database session, Temporal client, the authenticated merchant."""

import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import Client

from api.problems import Problem
from cobro.db import merchants_repo
from cobro.settings import Settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(_session)]
TemporalDep = Annotated[Client, Depends(_temporal)]
SettingsDep = Annotated[Settings, Depends(_settings)]

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
# Declares the API key in the OpenAPI schema; _merchant reads the header itself, so a missing or
# wrong key is its problem+json 401, not FastAPI's 403.
API_KEY = HTTPBearer(
    auto_error=False, scheme_name="apiKey", description="The merchant's API key, `sk_...`"
)


async def _merchant(
    request: Request,
    session: SessionDep,
    _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(API_KEY)],
) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Problem(
            401,
            "Send your API key as `Authorization: Bearer sk_...`.",
            "missing-api-key",
            headers=UNAUTHORIZED,
        )
    known: KeyCache = request.app.state.api_keys
    key = key.strip()
    key_hash = merchants_repo.hash_key(key)  # no raw key kept in memory
    merchant_id = known.get(key_hash)
    if merchant_id is None:
        merchant_id = await merchants_repo.merchant_for_key(session, key)
        if merchant_id is None:
            raise Problem(401, "The API key is not valid.", "invalid-api-key", headers=UNAUTHORIZED)
        known.put(key_hash, merchant_id)
    return merchant_id


class KeyCache:
    """Valid API keys for a minute, so a merchant polling a payment costs one query, not two.
    A key deleted from the database stops working within that minute."""

    TTL_S = 60.0
    MAX_KEYS = 10_000

    def __init__(self) -> None:
        self._merchants: dict[str, tuple[str, float]] = {}

    def get(self, key_hash: str) -> str | None:
        found = self._merchants.get(key_hash)
        if found is None or found[1] < time.monotonic():
            return None
        return found[0]

    def put(self, key_hash: str, merchant_id: str) -> None:
        if len(self._merchants) >= self.MAX_KEYS:
            self._merchants.clear()
        self._merchants[key_hash] = (merchant_id, time.monotonic() + self.TTL_S)


CurrentMerchant = Annotated[str, Depends(_merchant)]
