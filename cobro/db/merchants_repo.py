"""Merchants and their API keys. Keys are stored as SHA-256 digests, never in clear."""

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import ApiKey, Merchant
from cobro.domain.ids import new_id
from cobro.domain.payment import LatePaymentPolicy


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
