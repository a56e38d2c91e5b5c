"""Migration 0011 on a database with merchants and keys from before it: every key keeps working
(the demo merchant's too) and gets a public id; going back down drops revoked keys, which would
otherwise work again."""

import asyncio
import re
from collections.abc import Callable

from alembic import command
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from cobro.db import merchants_repo, request_gate
from cobro.db.migrate import alembic_config
from cobro.domain.rate_limits import Limit

KEYS = ["sk_test_demo", "sk_a_before_0011", "sk_b_before_0011"]


def _run(url: str, sql: str, params: dict[str, object] | None = None) -> list[tuple[object, ...]]:
    async def go() -> list[tuple[object, ...]]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(sql), params or {})
                return [tuple(r) for r in result] if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _admit(url: str, api_key: str) -> request_gate.Passed | request_gate.Limited | None:
    async def go() -> request_gate.Passed | request_gate.Limited | None:
        engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                key_hash = merchants_repo.hash_key(api_key)
                return await request_gate.admit(conn, key_hash, "read", Limit(1, 5))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def test_keys_from_before_0011_keep_working(new_database: Callable[[], str]) -> None:
    url = new_database()
    config = alembic_config(url)
    command.upgrade(config, "0010")
    _run(url, "INSERT INTO merchants (id, name) VALUES ('mer_demo', 'Demo'), ('mer_b', 'B')")
    for key, merchant in zip(KEYS, ["mer_demo", "mer_b", "mer_b"], strict=True):
        _run(
            url,
            "INSERT INTO api_keys (merchant_id, key_hash, key_prefix) VALUES (:m, :h, :p)",
            {"m": merchant, "h": merchants_repo.hash_key(key), "p": key[:12]},
        )

    command.upgrade(config, "head")

    ids = [row[0] for row in _run(url, "SELECT public_id FROM api_keys ORDER BY id")]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"key_[0-9a-f]{24}", str(i)) for i in ids)
    verdicts = [_admit(url, key) for key in KEYS]
    assert [v.merchant_id if v else None for v in verdicts] == ["mer_demo", "mer_b", "mer_b"]
    assert all(isinstance(v, request_gate.Passed) for v in verdicts)

    _run(url, "UPDATE api_keys SET revoked_at = now() WHERE key_prefix = :p", {"p": KEYS[2][:12]})
    assert _admit(url, KEYS[2]) is None
    command.downgrade(config, "0010")
    prefixes = {row[0] for row in _run(url, "SELECT key_prefix FROM api_keys")}
    assert prefixes == {KEYS[0][:12], KEYS[1][:12]}  # the revoked key did not come back
