"""Request dependencies: database session, Temporal client, the authenticated merchant (its key
checked and its rate limit applied on every request)."""

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from temporalio.client import Client

from api.problems import Problem
from cobro.db import merchants_repo, request_gate
from cobro.domain.rate_limits import Kind
from cobro.settings import Settings


async def _session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessions() as session:
        yield session


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.reads() as session:
        yield session


# Dependencies are `async def` even when they do not await: FastAPI runs a plain `def` one in
# its thread pool, a thread handoff on every request.
async def _temporal(request: Request) -> Client:
    client: Client = request.app.state.temporal
    return client


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[AsyncSession, Depends(_session)]
# Autocommit: each statement on its own, for routes that only read.
ReadSessionDep = Annotated[AsyncSession, Depends(_read_session)]
TemporalDep = Annotated[Client, Depends(_temporal)]
SettingsDep = Annotated[Settings, Depends(_settings)]

UNAUTHORIZED = {"WWW-Authenticate": "Bearer"}
# Declares the API key in the OpenAPI schema; _gate reads the header itself, so a missing or
# wrong key is its problem+json 401, not FastAPI's 403.
API_KEY = HTTPBearer(
    auto_error=False, scheme_name="apiKey", description="The merchant's API key, `sk_...`"
)


def _key_of(request: Request) -> str:
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Problem(
            401,
            "Send your API key as `Authorization: Bearer sk_...`.",
            "missing-api-key",
            headers=UNAUTHORIZED,
        )
    return key.strip()


def _gate(kind: Kind) -> Callable[..., Awaitable[str]]:
    """The dependency that authenticates a request and takes one token of `kind` from its
    merchant's bucket, in one statement on its own autocommit connection (cobro/db/
    request_gate.py): the token is taken, and the bucket's row lock released, before the
    route's own transaction begins."""

    async def merchant(
        request: Request,
        _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(API_KEY)],
    ) -> str:
        key_hash = merchants_repo.hash_key(_key_of(request))  # no raw key kept in memory
        settings: Settings = request.app.state.settings
        gate: AsyncEngine = request.app.state.gate
        async with gate.connect() as conn:
            verdict = await request_gate.admit(conn, key_hash, kind, settings.rate_limit(kind))
        if verdict is None:
            raise Problem(401, "The API key is not valid.", "invalid-api-key", headers=UNAUTHORIZED)
        if isinstance(verdict, request_gate.Limited):
            limit = verdict.limit
            raise Problem(
                429,
                f"Too many {kind} requests: this merchant may send {limit.burst} at once and "
                f"{limit.rate_per_s:g} per second; retry in {verdict.retry_after_s} s.",
                "rate-limited",
                headers={"Retry-After": str(verdict.retry_after_s)},
            )
        return verdict.merchant_id

    return merchant


# A route takes one token from the merchant's `read` bucket (every request but creates) ...
CurrentMerchant = Annotated[str, Depends(_gate("read"))]
# ... or from its `create` bucket: new payments and refunds, the requests that reach a PSP.
CreatingMerchant = Annotated[str, Depends(_gate("create"))]
