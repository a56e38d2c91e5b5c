"""A merchant's API keys: create (the secret is returned once, only its SHA-256 is kept), list,
revoke. Used by the API (`/v1/api_keys`) and the CLI (`cobro keys ...`)."""

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.merchants_repo import hash_key, new_api_key
from cobro.db.models import ApiKey, Merchant


class LastKey(Exception):
    """Revoking it would leave the merchant without a working key."""


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str  # shown once: cobro keeps only its hash


async def _lock_merchant(session: AsyncSession, merchant_id: str) -> bool:
    """Serializes key changes of one merchant (so two revocations cannot remove the last two
    keys at once); False when there is no such merchant. FOR NO KEY UPDATE: rows that only
    reference the merchant (a payment being created) are not held up."""
    found = await session.scalar(
        select(Merchant.id).where(Merchant.id == merchant_id).with_for_update(key_share=True)
    )
    return found is not None


async def create(session: AsyncSession, merchant_id: str, name: str | None) -> NewKey | None:
    """None when the merchant does not exist."""
    if not await _lock_merchant(session, merchant_id):
        return None
    secret = new_api_key()
    key = ApiKey(
        merchant_id=merchant_id, key_hash=hash_key(secret), key_prefix=secret[:12], name=name
    )
    session.add(key)
    await session.flush()
    await session.refresh(key)  # created_at, from the database's clock
    return NewKey(key, secret)


async def keys_of(session: AsyncSession, merchant_id: str) -> list[ApiKey]:
    """Every key of the merchant, revoked ones too, newest first."""
    rows = await session.scalars(
        select(ApiKey)
        .where(ApiKey.merchant_id == merchant_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return list(rows)


async def revoke(session: AsyncSession, merchant_id: str, public_id: str) -> ApiKey | None:
    """Revoke the merchant's key `public_id`, refused from the moment the caller commits.
    None when the merchant has no such key; a revoked key stays revoked (same `revoked_at`).
    Raises LastKey for the merchant's last active key."""
    if not await _lock_merchant(session, merchant_id):
        return None
    key = await session.scalar(
        select(ApiKey).where(ApiKey.merchant_id == merchant_id, ApiKey.public_id == public_id)
    )
    if key is None or key.revoked_at is not None:
        return key
    others = await session.scalar(
        select(func.count())
        .select_from(ApiKey)
        .where(
            ApiKey.merchant_id == merchant_id,
            ApiKey.revoked_at.is_(None),
            ApiKey.id != key.id,
        )
    )
    if not others:
        raise LastKey(f"{public_id} is the merchant's last active key; create another first")
    await session.execute(update(ApiKey).where(ApiKey.id == key.id).values(revoked_at=func.now()))
    await session.refresh(key)
    return key
