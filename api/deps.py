"""Request dependencies: database session, Temporal client, the authenticated merchant."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
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


async def _merchant(request: Request, session: SessionDep) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key:
        raise Problem(
            401,
            "Send your API key as `Authorization: Bearer sk_...`.",
            "missing-api-key",
            headers=UNAUTHORIZED,
        )
    merchant_id = await merchants_repo.merchant_for_key(session, key.strip())
    if merchant_id is None:
        raise Problem(401, "The API key is not valid.", "invalid-api-key", headers=UNAUTHORIZED)
    return merchant_id


CurrentMerchant = Annotated[str, Depends(_merchant)]
