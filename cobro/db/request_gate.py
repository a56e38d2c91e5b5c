"""Every authenticated API request passes one SQL statement: is the key valid (not revoked),
may its merchant send one more request of this kind (token bucket), and the key's last use.

Why one statement in PostgreSQL, not a per-process cache and per-process buckets:
- a revocation is a committed row, so it is refused by every API process from the next
  request, with no cache to invalidate and no notification that a broken connection could lose;
- N API processes share each merchant's bucket, so the limit holds whatever the balancer does
  (per-process buckets at limit/N are wrong as soon as traffic is uneven, or N changes);
- it is one round trip, and the bucket's row lock is held only for it. The bucket table is
  UNLOGGED, so taking a token (or being refused one: the refill is written then too, so every
  answer comes from the row as last committed) commits without a WAL flush; `last_used_at` is
  written at most once a minute per key (the WHERE below), so reads do not each become a
  logged write. tests/db/test_request_gate.py measures the cost.
"""

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cobro.domain.rate_limits import KINDS, Kind, Limit, retry_after_s

LAST_USE_EVERY_S = 60


# The bucket's level now: what it held at `at`, refilled since, at most the burst. In the
# upsert, `b` is the row as last committed (whichever API process wrote it) and `excluded` the
# merchant's limit now.
LEVEL = (
    "least(excluded.burst, "
    "b.tokens + excluded.rate_per_s * greatest(0, extract(epoch FROM now() - b.at)))"
)


def _statement(kind: Kind) -> str:
    rate, burst = f"{kind}_rate_per_s", f"{kind}_burst"  # fixed column names, never user input
    return f"""
WITH key AS (
    SELECT k.id, k.merchant_id,
           coalesce(m.{rate}, :rate) AS rate,
           coalesce(m.{burst}, :burst) AS burst
    FROM api_keys k JOIN merchants m ON m.id = k.merchant_id
    WHERE k.key_hash = :key_hash AND k.revoked_at IS NULL
), used AS (
    UPDATE api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM key)
      AND (last_used_at IS NULL OR last_used_at < now() - make_interval(secs => :every))
    RETURNING id
), bucket AS (
    INSERT INTO rate_buckets AS b (merchant_id, kind, tokens, at, rate_per_s, burst, took)
    SELECT merchant_id, :kind, burst - 1, now(), rate, burst, true FROM key
    ON CONFLICT (merchant_id, kind) DO UPDATE SET
        tokens = CASE WHEN {LEVEL} >= 1 THEN {LEVEL} - 1 ELSE {LEVEL} END,
        took = {LEVEL} >= 1,
        at = greatest(b.at, now()),
        rate_per_s = excluded.rate_per_s,
        burst = excluded.burst
    RETURNING b.tokens, b.took
)
SELECT key.merchant_id, key.rate, key.burst, bucket.tokens, bucket.took
FROM key, bucket
"""  # noqa: S608


STATEMENTS = {kind: text(_statement(kind)) for kind in KINDS}


@dataclass(frozen=True)
class Passed:
    merchant_id: str
    limit: Limit
    tokens_left: float


@dataclass(frozen=True)
class Limited:
    merchant_id: str
    limit: Limit
    retry_after_s: int


async def admit(
    conn: AsyncConnection, key_hash: str, kind: Kind, default: Limit
) -> Passed | Limited | None:
    """None: no such key, or it is revoked. `conn` must be in autocommit mode: the token taken
    is committed (and its row lock released) before the request does anything else."""
    params = {
        "key_hash": key_hash,
        "kind": kind,
        "rate": default.rate_per_s,
        "burst": default.burst,
        "every": LAST_USE_EVERY_S,
    }
    row = (await conn.execute(STATEMENTS[kind], params)).one_or_none()
    if row is None:
        return None
    limit = Limit(float(row.rate), int(row.burst))
    if row.took:
        return Passed(row.merchant_id, limit, float(row.tokens))
    return Limited(row.merchant_id, limit, retry_after_s(float(row.tokens), limit.rate_per_s))
