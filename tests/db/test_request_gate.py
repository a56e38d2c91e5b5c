"""The statement every authenticated request passes (cobro/db/request_gate.py), on the test
session's PostgreSQL: token buckets shared by several engines (as by several API processes), a
revoked key refused by the next statement, last use written at most once a minute, and what it
costs per request next to the one SELECT that authenticated a request before."""

import asyncio
import statistics
import time
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from cobro.db import api_keys_repo, merchants_repo, request_gate
from cobro.db.session import make_engine
from cobro.domain.rate_limits import Kind, Limit
from cobro.settings import Settings

DEFAULT = Limit(100, 200)


@pytest.fixture
async def gate(engine: AsyncEngine) -> AsyncEngine:
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def _merchant(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    api_key = merchants_repo.new_api_key()
    async with sessions.begin() as session:
        merchant_id = await merchants_repo.create_merchant(session, "Gate shop", api_key)
    return merchant_id, merchants_repo.hash_key(api_key)


async def _admit(
    gate: AsyncEngine, key_hash: str, kind: Kind = "read"
) -> request_gate.Passed | request_gate.Limited | None:
    async with gate.connect() as conn:
        return await request_gate.admit(conn, key_hash, kind, DEFAULT)


async def test_a_bucket_gives_its_burst_then_refuses_until_it_refills(
    gate: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id, key_hash = await _merchant(sessions)
    async with sessions.begin() as session:
        await merchants_repo.set_limit(session, merchant_id, "read", Limit(2, 3))

    verdicts = [await _admit(gate, key_hash) for _ in range(4)]
    assert [type(v).__name__ for v in verdicts] == ["Passed", "Passed", "Passed", "Limited"]
    refused = verdicts[3]
    assert isinstance(refused, request_gate.Limited)
    assert refused.limit == Limit(2, 3) and refused.retry_after_s == 1
    # The other kind has its own bucket, at the defaults.
    other = await _admit(gate, key_hash, "create")
    assert isinstance(other, request_gate.Passed) and other.limit == DEFAULT
    await asyncio.sleep(0.6)  # 2 tokens a second: one is back
    assert isinstance(await _admit(gate, key_hash), request_gate.Passed)
    assert isinstance(await _admit(gate, key_hash), request_gate.Limited)


async def test_two_engines_share_one_bucket_under_concurrent_requests(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Two pools stand for two API processes: together they admit exactly the burst."""
    merchant_id, key_hash = await _merchant(sessions)
    async with sessions.begin() as session:
        await merchants_repo.set_limit(session, merchant_id, "create", Limit(0.001, 7))
    engines = [make_engine(settings) for _ in range(2)]
    try:
        gates = [e.execution_options(isolation_level="AUTOCOMMIT") for e in engines]
        verdicts = await asyncio.gather(
            *(_admit(gates[i % 2], key_hash, "create") for i in range(40))
        )
    finally:
        for e in engines:
            await e.dispose()
    passed = [v for v in verdicts if isinstance(v, request_gate.Passed)]
    limited = [v for v in verdicts if isinstance(v, request_gate.Limited)]
    assert (len(passed), len(limited)) == (7, 33), verdicts
    assert all(v.retry_after_s >= 900 for v in limited)  # a token every 1000 s


async def test_a_revoked_key_is_refused_by_the_next_statement(
    gate: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    merchant_id, old_hash = await _merchant(sessions)
    async with sessions.begin() as session:
        new = await api_keys_repo.create(session, merchant_id, "rotation")
    assert new is not None
    new_hash = merchants_repo.hash_key(new.secret)
    assert isinstance(await _admit(gate, old_hash), request_gate.Passed)
    async with sessions.begin() as session:
        old_id = await session.scalar(
            text("SELECT public_id FROM api_keys WHERE key_hash = :h"), {"h": old_hash}
        )
        await api_keys_repo.revoke(session, merchant_id, old_id)
    assert await _admit(gate, old_hash) is None
    assert isinstance(await _admit(gate, new_hash), request_gate.Passed)


async def test_last_use_is_written_once_a_minute_not_on_every_request(
    gate: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _, key_hash = await _merchant(sessions)
    version = text("SELECT xmin::text, last_used_at FROM api_keys WHERE key_hash = :h")

    async def row() -> tuple[str, object]:
        async with sessions() as session:
            found = (await session.execute(version, {"h": key_hash})).one()
            return found[0], found[1]

    assert (await row())[1] is None
    await _admit(gate, key_hash)
    first = await row()
    assert first[1] is not None
    for _ in range(5):
        await _admit(gate, key_hash)
    assert await row() == first  # same row version: no write
    async with sessions.begin() as session:  # as if the last write were a minute old
        await session.execute(
            text("UPDATE api_keys SET last_used_at = now() - interval '61 s' WHERE key_hash = :h"),
            {"h": key_hash},
        )
    before = await row()
    await _admit(gate, key_hash)
    after = await row()
    assert after[0] != before[0] and after[1] > before[1]  # type: ignore[operator]


@pytest.fixture
async def timed_key(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[str]:
    merchant_id, key_hash = await _merchant(sessions)
    async with sessions.begin() as session:
        await merchants_repo.set_limit(session, merchant_id, "read", Limit(1e6, 1_000_000))
    yield key_hash


async def test_what_the_gate_costs_per_request(gate: AsyncEngine, timed_key: str) -> None:
    """Printed with -s; the README quotes it. Before: one SELECT of the key (on a cache miss);
    for comparison, one logged UPDATE per request (what writing last use on every request, or
    a bucket in a logged table, would cost: a WAL flush at each commit)."""
    calls = {
        "gate": None,
        "select": text("SELECT merchant_id FROM api_keys WHERE key_hash = :h"),
        "logged update": text("UPDATE api_keys SET last_used_at = now() WHERE key_hash = :h"),
    }

    async def timed(call: str, n: int = 400) -> list[float]:
        samples = []
        statement = calls[call]
        async with gate.connect() as conn:
            for _ in range(n):
                started = time.perf_counter()
                if statement is None:
                    await request_gate.admit(conn, timed_key, "read", DEFAULT)
                else:
                    await conn.execute(statement, {"h": timed_key})
                samples.append((time.perf_counter() - started) * 1e6)
        return samples

    for call in calls:  # warm: prepared statements, caches
        await timed(call, 50)
    took = {call: await timed(call) for call in calls}
    shown = ", ".join(
        f"{call} p50 {statistics.median(us):.0f} p99 {statistics.quantiles(us, n=100)[98]:.0f}"
        for call, us in took.items()
    )
    print(f"per request (us): {shown}")
    assert statistics.median(took["gate"]) < 20_000, "about one round trip, not a disk flush"
