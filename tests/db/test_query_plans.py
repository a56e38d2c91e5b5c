"""Every hot query reads an index: the real statements of cobro's repositories, captured as they
run, EXPLAINed by PostgreSQL's default planner on a database big and varied enough (tens of
thousands of rows, ANALYZEd) for a sequential scan to be the planner's honest alternative."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from cobro.db import inbox_repo, payments_repo, refunds_repo, webhooks_repo
from cobro.db.migrate import alembic_config
from cobro.domain.business_day import business_day
from cobro.reconciliation import cobro_lines

PAYMENTS = 20_000  # four events each; deliveries, inbox rows and refunds of the same order
DAYS = 60
NOW = datetime.now(UTC)
INDEX_NODES = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}

POPULATE = [
    "INSERT INTO merchants (id, name) SELECT 'mer_' || m, 'Merchant ' || m "
    "FROM generate_series(0, 49) m",
    "INSERT INTO webhook_endpoints (id, merchant_id, url, events, secret_encrypted) "
    "SELECT 'we_' || m, 'mer_' || m, 'https://example.mx/hook', '{\"types\": [\"*\"]}', 'x' "
    "FROM generate_series(0, 49) m",
    # Oldest first, as time writes them (so each table's physical order follows its clock).
    """INSERT INTO payments (id, merchant_id, status, amount, amount_received, amount_refunded,
        currency, method, psp, psp_reference, psp_customer_reference, customer, metadata,
        created_at, updated_at)
    SELECT 'pay_' || i, 'mer_' || (i % 50),
        CASE WHEN i % 10 < 6 THEN 'succeeded' WHEN i % 10 < 8 THEN 'expired'
             ELSE 'awaiting_payment' END,
        25000, CASE WHEN i % 10 < 6 THEN 25000 ELSE 0 END, 0, 'MXN', 'oxxo',
        (ARRAY['stripe', 'conekta', 'stp', 'moonpay'])[i % 4 + 1], 'ref_' || i,
        CASE WHEN i % 3 = 0 THEN 'cus_' || i END, '{}', '{}', t, t
    FROM (SELECT i, :now - (:payments - i) * :step AS t
          FROM generate_series(1, :payments) i) p""",
    """INSERT INTO payment_events (id, payment_id, seq, kind, from_status, to_status, at,
        source, detail, failed_psp)
    SELECT 'evt_' || i || '_' || s, 'pay_' || i, s,
        CASE WHEN s = 2 AND i % 50 = 0 THEN 'failover'
             WHEN s = 3 AND i % 10 >= 8 THEN 'partial_payment'
             WHEN s = 4 AND i % 10 < 6 AND i % 7 = 0 THEN 'late_payment'
             ELSE 'transition' END,
        CASE WHEN s > 1 THEN 'pending' END,
        CASE WHEN s = 1 OR (s = 2 AND i % 50 = 0) THEN 'pending'
             WHEN s = 2 OR i % 10 >= 8 THEN 'awaiting_payment'
             WHEN i % 10 < 6 THEN 'succeeded' ELSE 'expired' END,
        :now - (:payments - i) * :step + s * interval '1 minute', 'psp_webhook', 'generated',
        CASE WHEN s = 2 AND i % 50 = 0 THEN 'stripe' END
    FROM generate_series(1, :payments) i, generate_series(1, 4) s
    ORDER BY 7""",
    """INSERT INTO refunds (id, payment_id, merchant_id, amount, status, origin, created_at,
        updated_at)
    SELECT 're_' || i, 'pay_' || i, 'mer_' || (i % 50), 5000,
        CASE WHEN i % 10 = 0 THEN 'failed' WHEN i % 10 = 1 THEN 'pending' ELSE 'succeeded' END,
        'merchant', t, t
    FROM (SELECT i, :now - (:payments - i) * :step + interval '1 hour' AS t
          FROM generate_series(1, :payments) i WHERE i % 10 < 6) r""",
    """INSERT INTO merchant_events (id, merchant_id, payment_id, type, payload, created_at)
    SELECT 'evt_pay_' || i || '_3_payment.succeeded', 'mer_' || (i % 50), 'pay_' || i,
        'payment.succeeded', '{}', :now - (:payments - i) * :step
    FROM generate_series(1, :payments) i""",
    """INSERT INTO webhook_deliveries (id, endpoint_id, event_id, status, attempts)
    SELECT 'msg_' || i, 'we_' || (i % 50), 'evt_pay_' || i || '_3_payment.succeeded',
        'succeeded', 1
    FROM generate_series(1, :payments) i""",
    # The inbox as it mostly is: forwarded long ago; a handful still to forward.
    """INSERT INTO psp_webhook_inbox (psp, event_id, event_type, psp_reference, raw_body,
        event, payment_id, received_at, forwarded_at)
    SELECT 'stripe', 'evt_psp_' || i, 'payment_intent.succeeded', 'ref_' || i,
        convert_to('{}', 'UTF8'), '{}', 'pay_' || i, t,
        CASE WHEN i % 2000 <> 0 THEN t + interval '1 second' END
    FROM (SELECT i, :now - (:payments - i) * :step AS t
          FROM generate_series(1, :payments) i) w""",
    "ANALYZE",
]


@pytest.fixture(scope="module")
def plans_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="module")
async def engine(plans_url: str) -> AsyncIterator[AsyncEngine]:
    created = create_async_engine(plans_url)
    params = {"now": NOW, "payments": PAYMENTS, "step": timedelta(days=DAYS) / PAYMENTS}
    async with created.connect() as conn:
        for statement in POPULATE:
            typed = (  # asyncpg infers no type for a parameter in arithmetic
                statement.replace(":now", "CAST(:now AS timestamptz)")
                .replace(":payments", "CAST(:payments AS integer)")
                .replace(":step", "CAST(:step AS interval)")
            )
            used = {name: value for name, value in params.items() if f":{name}" in statement}
            await conn.execute(text(typed), used)
            await conn.commit()  # ANALYZE must see the rows, and its statistics must stay
    yield created
    await created.dispose()


def _indexes_read(plan: dict[str, Any]) -> set[tuple[str, str]]:
    found = set()
    if plan.get("Node Type") in INDEX_NODES:
        found.add((plan["Node Type"], plan["Index Name"]))
    for child in plan.get("Plans", []):
        found |= _indexes_read(child)
    return found


async def _plans(
    engine: AsyncEngine, run: Callable[[AsyncSession], Awaitable[Any]], reads: str
) -> list[tuple[str, set[tuple[str, str]], str]]:
    """Runs `run` in a transaction that is rolled back; EXPLAINs every SELECT it sent that reads
    `reads`, with the parameters it sent. Returns (statement, indexes read, plan as text)."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    async with engine.connect() as conn:
        await conn.begin()
        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        try:
            await run(AsyncSession(bind=conn, join_transaction_mode="create_savepoint"))
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", capture)
        explained = []
        for statement, parameters in sent:
            if not statement.lstrip().upper().startswith("SELECT") or reads not in statement:
                continue
            explained.append((statement, *await _explain(conn, statement, parameters)))
        await conn.rollback()
    assert explained, f"no SELECT reading {reads} was sent"
    return explained


async def _explain(
    conn: AsyncConnection, statement: str, parameters: Any
) -> tuple[set[tuple[str, str]], str]:
    result = await conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters)
    raw = result.scalar_one()
    plan = (json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"]
    as_text = await conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
    return _indexes_read(plan), "\n".join(r[0] for r in as_text)


async def _assert_reads(
    engine: AsyncEngine,
    run: Callable[[AsyncSession], Awaitable[Any]],
    reads: str,
    *indexes: str,
) -> None:
    for statement, found, plan in await _plans(engine, run, reads):
        names = {name for _, name in found}
        missing = set(indexes) - names
        assert not missing, f"{statement}\nreads no {missing}; its plan:\n{plan}"
        print(f"\n{statement}\n{plan}")  # pytest -s shows what was checked


async def test_the_inbox_sweep_reads_its_partial_index(engine: AsyncEngine) -> None:
    async def sweep(session: AsyncSession) -> Any:
        rows = await inbox_repo.unforwarded(session, NOW + timedelta(seconds=1))
        assert len(rows) == PAYMENTS // 2000  # the ones left to forward, found
        return rows

    await _assert_reads(engine, sweep, "psp_webhook_inbox", "ix_psp_webhook_inbox_pending")


async def test_the_metrics_read_partial_indexes(engine: AsyncEngine) -> None:
    """On every scrape of the API's /metrics: what waits in the inbox, and in `processing`."""

    async def inbox(session: AsyncSession) -> Any:
        backlog = await inbox_repo.backlog(session)
        assert sum(count for count, _ in backlog.values()) == PAYMENTS // 2000
        return backlog

    await _assert_reads(engine, inbox, "psp_webhook_inbox", "ix_psp_webhook_inbox_pending")

    async def processing(session: AsyncSession) -> Any:
        await session.execute(
            text("UPDATE payments SET status = 'processing' WHERE id IN ('pay_7', 'pay_9')")
        )
        count, oldest = await payments_repo.processing_backlog(session)
        assert count == 2 and oldest is not None

    await _assert_reads(engine, processing, "FROM payments", "ix_payments_processing_updated")


async def test_deliveries_of_an_event_read_the_event_index(engine: AsyncEngine) -> None:
    async def publish(session: AsyncSession) -> Any:
        await session.execute(
            text(
                "INSERT INTO webhook_endpoints (id, merchant_id, url, events, secret_encrypted)"
                " VALUES ('we_new', 'mer_7', 'https://example.mx/new', '{\"types\": [\"*\"]}',"
                " 'x')"
            )
        )
        delivered = await webhooks_repo.record_event(
            session, "evt_pay_7_9_payment.expired", "mer_7", "pay_7", "payment.expired", {}, NOW
        )
        assert {endpoint for _, endpoint in delivered} == {"we_7", "we_new"}

    await _assert_reads(
        engine, publish, "webhook_deliveries.event_id =", "ix_webhook_deliveries_event_id"
    )


async def test_reconciliation_reads_events_and_refunds_by_time(engine: AsyncEngine) -> None:
    day = business_day(NOW - timedelta(days=5))

    async def reconcile(session: AsyncSession) -> Any:
        lines = await cobro_lines(session, "stripe", day)
        kinds = {kind for kind, _ in lines}
        assert kinds == {"charge", "refund"}, lines  # the day has both, for a real plan
        return lines

    await _assert_reads(engine, reconcile, "payment_events", "ix_payment_events_kind_status_at")
    await _assert_reads(
        engine, reconcile, "FROM payments JOIN refunds", "ix_refunds_status_updated"
    )


async def test_psp_health_reads_failovers_by_time(engine: AsyncEngine) -> None:
    async def health(session: AsyncSession) -> Any:
        rows = await payments_repo.psp_failovers(session, NOW - timedelta(days=1))
        assert [r["psp"] for r in rows] == ["stripe"] and rows[0]["failovers"] > 0
        return rows

    await _assert_reads(engine, health, "payment_events", "ix_payment_events_kind_status_at")


async def test_a_payments_pages_read_their_indexes(engine: AsyncEngine) -> None:
    """What every webhook, API read and refund does: find the payment, read its log."""

    async def by_reference(session: AsyncSession) -> Any:
        assert (await payments_repo.find_by_psp_reference(session, "stripe", "ref_8")) is not None
        assert (await payments_repo.find_by_psp_reference(session, "stp", "cus_6")) is not None

    await _assert_reads(
        engine,
        by_reference,
        "FROM payments",
        "uq_payments_psp_reference",
        "ix_payments_psp_customer_reference",
    )

    async def log(session: AsyncSession) -> Any:
        assert len(await payments_repo.list_events(session, "pay_123")) == 4

    await _assert_reads(engine, log, "FROM payment_events", "uq_payment_events_seq")

    async def refunds(session: AsyncSession) -> Any:
        assert len(await refunds_repo.list_for_payment(session, "pay_122")) == 1
        await refunds_repo.pending_total(session, "pay_122")

    await _assert_reads(engine, refunds, "FROM refunds", "ix_refunds_payment_id")

    async def listing(session: AsyncSession) -> Any:
        page = await payments_repo.list_payments(
            session, "mer_3", status=None, method=None, created_gte=None, after=None, limit=10
        )
        assert len(page) == 10

    await _assert_reads(engine, listing, "FROM payments", "ix_payments_merchant_created")
