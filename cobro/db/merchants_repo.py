"""Merchants and their API keys. Keys are stored as SHA-256 digests, never in clear."""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import ApiKey, Merchant
from cobro.domain.ids import new_id
from cobro.domain.payment import LatePaymentPolicy
from cobro.domain.rate_limits import Kind, Limit


def hash_key(api_key: str) -> str:
    # Keys are 32+ random bytes, so a fast hash is enough (no dictionary to attack).
    return hashlib.sha256(api_key.encode()).hexdigest()


def new_api_key() -> str:
    return f"sk_{secrets.token_urlsafe(32)}"


async def create_merchant(
    session: AsyncSession,
    name: str,
    api_key: str,
    late_payment_policy: str = "refund",
    routes: dict[str, list[str]] | None = None,
) -> str:
    merchant_id = new_id("mer")
    session.add(
        Merchant(
            id=merchant_id, name=name, late_payment_policy=late_payment_policy, routes=routes or {}
        )
    )
    await session.flush()
    session.add(
        ApiKey(merchant_id=merchant_id, key_hash=hash_key(api_key), key_prefix=api_key[:12])
    )
    return merchant_id


async def ensure_merchant(session: AsyncSession, name: str, api_key: str) -> str:
    """The merchant owning `api_key`, created with `name` if no merchant has that key yet."""
    existing = await merchant_for_key(session, api_key)
    if existing is not None:
        return existing
    merchant_id = new_id("mer")
    await session.execute(pg_insert(Merchant).values(id=merchant_id, name=name))
    inserted = await session.execute(
        pg_insert(ApiKey)
        .values(merchant_id=merchant_id, key_hash=hash_key(api_key), key_prefix=api_key[:12])
        .on_conflict_do_nothing()
        .returning(ApiKey.merchant_id)
    )
    if inserted.first() is None:
        await session.rollback()
        raced = await merchant_for_key(session, api_key)
        assert raced is not None
        return raced
    return merchant_id


async def merchant_for_key(session: AsyncSession, api_key: str) -> str | None:
    """The merchant that owns `api_key`, revoked or not (requests are authenticated by
    cobro/db/request_gate.py, which refuses revoked keys)."""
    return await session.scalar(
        select(ApiKey.merchant_id).where(ApiKey.key_hash == hash_key(api_key))
    )


@dataclass(frozen=True)
class MerchantRules:
    late_payment_policy: LatePaymentPolicy
    routes: dict[str, list[str]]  # method -> PSPs in order; empty means cobro's defaults


async def rules(session: AsyncSession, merchant_id: str) -> MerchantRules:
    row = (
        await session.execute(
            select(Merchant.late_payment_policy, Merchant.routes).where(Merchant.id == merchant_id)
        )
    ).one()
    policy: LatePaymentPolicy = "hold" if row.late_payment_policy == "hold" else "refund"
    return MerchantRules(policy, dict(row.routes or {}))


LIMIT_COLUMNS: dict[Kind, tuple[str, str]] = {
    "create": ("create_rate_per_s", "create_burst"),
    "read": ("read_rate_per_s", "read_burst"),
}


async def own_limits(session: AsyncSession, merchant_id: str) -> dict[Kind, Limit | None] | None:
    """The merchant's own rate limits (None for a kind: the defaults); None: no such merchant."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        return None
    own: dict[Kind, Limit | None] = {}
    for kind, (rate, burst) in LIMIT_COLUMNS.items():
        rate_value, burst_value = getattr(merchant, rate), getattr(merchant, burst)
        own[kind] = None if rate_value is None else Limit(rate_value, burst_value)
    return own


async def set_limit(
    session: AsyncSession, merchant_id: str, kind: Kind, limit: Limit | None
) -> bool:
    """Give the merchant its own limit of `kind` (None: back to the defaults); the API
    processes apply it from their next request. False when there is no such merchant."""
    rate, burst = LIMIT_COLUMNS[kind]
    values = {rate: limit.rate_per_s if limit else None, burst: limit.burst if limit else None}
    done = await session.execute(
        update(Merchant).where(Merchant.id == merchant_id).values(**values).returning(Merchant.id)
    )
    return done.first() is not None
