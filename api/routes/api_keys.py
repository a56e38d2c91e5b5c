"""A merchant's own API keys: create (the secret is in that answer only), list (prefix and last
use, never a secret), revoke (refused by every API process from the next request)."""

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentMerchant, SessionDep
from api.problems import Problem, problem_responses
from cobro.db import api_keys_repo
from cobro.db.models import ApiKey
from cobro.views import Timestamp

router = APIRouter(prefix="/v1/api_keys", tags=["api keys"])


class ApiKeyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(
        default=None, max_length=100, description="Your label for it, e.g. the server using it"
    )


class ApiKeyOut(BaseModel):
    id: str = Field(examples=["key_5f0c3a9e2b7d41c8a6e9f012"])
    object: Literal["api_key"] = "api_key"
    prefix: str = Field(description="The key's first 12 characters, to tell keys apart")
    name: str | None
    created_at: Timestamp
    last_used_at: Timestamp | None = Field(
        description="Recorded at most once a minute, so up to a minute early; null if never used"
    )
    revoked_at: Timestamp | None

    @classmethod
    def of(cls, key: ApiKey) -> "ApiKeyOut":
        return cls(
            id=key.public_id,
            prefix=key.key_prefix,
            name=key.name,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class NewApiKeyOut(ApiKeyOut):
    secret: str = Field(description="The key itself, shown this once: cobro keeps its hash only")


class ApiKeyList(BaseModel):
    data: list[ApiKeyOut]


@router.post(
    "",
    status_code=201,
    response_model=NewApiKeyOut,
    responses=problem_responses(401, 422, 429),
)
async def create_key(
    merchant_id: CurrentMerchant, session: SessionDep, body: ApiKeyBody | None = None
) -> NewApiKeyOut:
    """A new key for this merchant; both it and the existing keys work until revoked."""
    created = await api_keys_repo.create(session, merchant_id, body.name if body else None)
    assert created is not None  # the merchant just authenticated
    await session.commit()
    return NewApiKeyOut(**ApiKeyOut.of(created.key).model_dump(), secret=created.secret)


@router.get("", response_model=ApiKeyList, responses=problem_responses(401, 429))
async def list_keys(merchant_id: CurrentMerchant, session: SessionDep) -> ApiKeyList:
    """This merchant's keys, revoked ones too, newest first."""
    keys = await api_keys_repo.keys_of(session, merchant_id)
    return ApiKeyList(data=[ApiKeyOut.of(key) for key in keys])


@router.delete(
    "/{key_id}", response_model=ApiKeyOut, responses=problem_responses(401, 404, 409, 422, 429)
)
async def revoke_key(key_id: str, merchant_id: CurrentMerchant, session: SessionDep) -> ApiKeyOut:
    """Revoke a key (the one making this request too): from the answer on, every API process
    refuses it. The merchant's last active key cannot be revoked (409)."""
    try:
        key = await api_keys_repo.revoke(session, merchant_id, key_id)
    except api_keys_repo.LastKey as exc:
        raise Problem(409, f"{exc}.", "last-api-key") from exc
    if key is None:
        raise Problem(404, f"No API key {key_id!r} for this merchant.", "api-key-not-found")
    await session.commit()
    return ApiKeyOut.of(key)
