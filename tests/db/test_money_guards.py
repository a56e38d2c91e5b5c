"""The database guards money by itself: whatever a bug in the code tries, PostgreSQL refuses an
amount that is not positive, more refunded than received, or a status outside cobro's sets. And
every event carries its money in columns, written by the projection's own repository code."""

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, get_args

import pytest
from alembic import command
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine

from cobro.db import payments_repo
from cobro.db.migrate import alembic_config
from cobro.db.models import Merchant, Payment, PaymentEvent, Refund
from cobro.domain.ids import new_id
from cobro.domain.payment import EventKind, RefundStatus, Transition
from cobro.domain.status import EventSource, PaymentStatus

S = PaymentStatus
T0 = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def migrated_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    command.upgrade(alembic_config(url), "head")
    return url


@pytest.fixture(scope="module")
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    created = create_async_engine(migrated_url)
    yield created
    await created.dispose()


@pytest.fixture
async def conn(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection whose transaction is rolled back after the test."""
    async with engine.connect() as connection:
        await connection.begin()
        yield connection
        await connection.rollback()


async def _payment(conn: AsyncConnection, **values: Any) -> str:
    merchant_id, payment_id = new_id("mer"), new_id("pay")
    await conn.execute(insert(Merchant).values(id=merchant_id, name="Guarded"))
    row = {
        "id": payment_id,
        "merchant_id": merchant_id,
        "status": "pending",
        "amount": 25_000,
        "currency": "MXN",
        "method": "spei",
        "psp": "stp",
        "customer": {"name": "Ana"},
        "metadata_": {},
        **values,
    }
    await conn.execute(insert(Payment).values(**row))
    return payment_id


async def _refused(conn: AsyncConnection, statement: Any, constraint: str) -> None:
    """`statement` fails on exactly `constraint`; the test's transaction goes on."""
    savepoint = await conn.begin_nested()
    with pytest.raises(IntegrityError) as refused:
        await conn.execute(statement)
    await savepoint.rollback()
    asyncpg_error = getattr(refused.value.orig, "__cause__", None)  # the driver's, with details
    assert getattr(asyncpg_error, "sqlstate", None) == "23514", refused.value  # check_violation
    assert getattr(asyncpg_error, "constraint_name", None) == constraint, refused.value


async def _accepted(conn: AsyncConnection, statement: Any) -> None:
    async with conn.begin_nested():
        await conn.execute(statement)


async def test_more_refunded_than_received_is_refused(conn: AsyncConnection) -> None:
    payment_id = await _payment(conn, status="succeeded", amount_received=25_000)
    this = update(Payment).where(Payment.id == payment_id)
    await _accepted(conn, this.values(amount_refunded=25_000, status="refunded"))
    await _refused(
        conn, this.values(amount_refunded=25_001), "ck_payments_refunded_within_received"
    )
    # Taking money back from `received` below what was refunded is the same violation.
    await _refused(
        conn, this.values(amount_received=24_999), "ck_payments_refunded_within_received"
    )
    await _refused(
        conn, this.values(amount_received=-1), "ck_payments_amount_received_not_negative"
    )


async def test_amounts_must_be_positive(conn: AsyncConnection) -> None:
    payment_id = await _payment(conn)
    this = update(Payment).where(Payment.id == payment_id)
    await _refused(conn, this.values(amount=0), "ck_payments_amount_positive")
    await _refused(conn, this.values(amount=-25_000), "ck_payments_amount_positive")
    refund = {
        "id": new_id("re"),
        "payment_id": payment_id,
        "merchant_id": select(Payment.merchant_id)
        .where(Payment.id == payment_id)
        .scalar_subquery(),
        "amount": 0,
        "status": "pending",
    }
    await _refused(conn, insert(Refund).values(**refund), "ck_refunds_amount_positive")
    await _accepted(conn, insert(Refund).values(**{**refund, "amount": 1}))


async def test_payment_statuses_are_cobros_and_no_others(conn: AsyncConnection) -> None:
    payment_id = await _payment(conn)
    this = update(Payment).where(Payment.id == payment_id)
    for status in PaymentStatus:
        await _accepted(conn, this.values(status=status.value))
    for wrong in ("paid", "Succeeded", "", "requires_action"):
        await _refused(conn, this.values(status=wrong), "ck_payments_status_allowed")


async def test_refund_statuses_are_cobros_and_no_others(conn: AsyncConnection) -> None:
    payment_id = await _payment(conn)
    refund_id = new_id("re")
    merchant_id = select(Payment.merchant_id).where(Payment.id == payment_id).scalar_subquery()
    await conn.execute(
        insert(Refund).values(
            id=refund_id,
            payment_id=payment_id,
            merchant_id=merchant_id,
            amount=100,
            status="pending",
        )
    )
    this = update(Refund).where(Refund.id == refund_id)
    for status in get_args(RefundStatus):
        await _accepted(conn, this.values(status=status))
    # Stripe's own words must be mapped to cobro's before they are stored.
    for wrong in ("requires_action", "canceled", "succeded"):
        await _refused(conn, this.values(status=wrong), "ck_refunds_status_allowed")


async def test_event_kinds_statuses_and_sources_are_cobros(conn: AsyncConnection) -> None:
    payment_id = await _payment(conn)
    seq = iter(range(1, 1000))

    def event(**values: Any) -> Any:
        row = {
            "id": new_id("evt"),
            "payment_id": payment_id,
            "seq": next(seq),
            "kind": "transition",
            "from_status": None,
            "to_status": "pending",
            "at": T0,
            "source": "api",
            **values,
        }
        return insert(PaymentEvent).values(**row)

    for kind in get_args(EventKind):  # every kind the workflow records
        await _accepted(conn, event(kind=kind))
    for status in PaymentStatus:
        await _accepted(conn, event(from_status=status.value, to_status=status.value))
    for source in EventSource:
        await _accepted(conn, event(source=source.value))
    await _refused(conn, event(kind="refund_failed"), "ck_payment_events_kind_allowed")
    await _refused(conn, event(to_status="paid"), "ck_payment_events_to_status_allowed")
    await _refused(conn, event(from_status="paid"), "ck_payment_events_from_status_allowed")
    await _refused(conn, event(source="psp"), "ck_payment_events_source_allowed")
    await _refused(conn, event(received=0), "ck_payment_events_received_positive")
    await _refused(conn, event(refunded=-5), "ck_payment_events_refunded_positive")


async def test_events_carry_the_money_they_move(conn: AsyncConnection) -> None:
    """The projection's own write (payments_repo.record_transition): each event stores the
    totals it states and what it added to them, measured against the payment row."""
    payment_id = await _payment(conn, psp="stripe")
    session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
    steps: list[tuple[str, S, dict[str, Any]]] = [
        ("transition", S.PENDING, {}),
        ("failover", S.PENDING, {"failed_psp": "stripe"}),
        ("transition", S.AWAITING_PAYMENT, {"psp": "conekta", "psp_reference": "ord_1"}),
        ("partial_payment", S.AWAITING_PAYMENT, {"amount_received": 10_000}),
        ("transition", S.SUCCEEDED, {"amount_received": 25_000}),
        ("ignored", S.SUCCEEDED, {"amount_received": 25_000}),  # a duplicate: moves nothing
        ("late_payment", S.SUCCEEDED, {"amount_received": 30_000}),  # an over-payment
        ("late_payment", S.SUCCEEDED, {"amount_refunded": 5_000}),  # the excess returned
        ("transition", S.PARTIALLY_REFUNDED, {"amount_refunded": 15_000}),
        ("transition", S.REFUNDED, {"amount_refunded": 30_000}),
    ]
    previous: S | None = None
    for seq, (kind, to, fields) in enumerate(steps, start=1):
        transition = Transition(
            payment_id=payment_id,
            seq=seq,
            kind=kind,
            from_status=previous,
            to_status=to,
            at=T0 + timedelta(minutes=seq),
            source=EventSource.PSP_WEBHOOK,
            detail=f"step {seq}",
            **fields,
        )
        assert await payments_repo.record_transition(session, transition)
        # A retried activity writes nothing twice, and measures nothing again.
        assert not await payments_repo.record_transition(session, transition)
        previous = to
    await session.flush()
    rows = (
        await conn.execute(
            select(
                PaymentEvent.kind,
                PaymentEvent.amount_received,
                PaymentEvent.received,
                PaymentEvent.amount_refunded,
                PaymentEvent.refunded,
                PaymentEvent.failed_psp,
            )
            .where(PaymentEvent.payment_id == payment_id)
            .order_by(PaymentEvent.seq)
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        ("transition", None, None, None, None, None),
        ("failover", None, None, None, None, "stripe"),
        ("transition", None, None, None, None, None),
        ("partial_payment", 10_000, 10_000, None, None, None),
        ("transition", 25_000, 15_000, None, None, None),
        ("ignored", 25_000, None, None, None, None),
        ("late_payment", 30_000, 5_000, None, None, None),
        ("late_payment", None, None, 5_000, 5_000, None),
        ("transition", None, None, 15_000, 10_000, None),
        ("transition", None, None, 30_000, 15_000, None),
    ]
    payment = (await conn.execute(select(Payment).where(Payment.id == payment_id))).one()
    assert (payment.amount_received, payment.amount_refunded) == (30_000, 30_000)
    # The same log says how much money came in and went out, without reading a word of detail.
    totals = (
        await conn.execute(
            text("SELECT sum(received), sum(refunded) FROM payment_events WHERE payment_id = :p"),
            {"p": payment_id},
        )
    ).one()
    assert tuple(totals) == (30_000, 30_000)


async def test_psp_health_counts_failovers_by_the_psp_that_failed(conn: AsyncConnection) -> None:
    payment_id = await _payment(conn)
    session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint")
    now = datetime.now(UTC)
    for seq, (failed, at) in enumerate(
        [("stripe", now - timedelta(minutes=5)), ("stripe", now), (None, now), ("conekta", now)],
        start=1,
    ):
        await payments_repo.record_transition(
            session,
            Transition(
                payment_id=payment_id,
                seq=seq,
                kind="failover",
                from_status=S.PENDING,
                to_status=S.PENDING,
                at=at,
                source=EventSource.OPS if failed is None else EventSource.API,
                # An ops retry names its operator first: never mistaken for a PSP any more.
                detail="lucia@ops: PSPs are back; retrying creation at stripe",
                failed_psp=failed,
            ),
        )
    rows = await payments_repo.psp_failovers(session, now - timedelta(hours=1))
    counts = {r["psp"]: r["failovers"] for r in rows if r["psp"] in ("stripe", "conekta", None)}
    assert counts == {"stripe": 2, "conekta": 1}
    stripe = next(r for r in rows if r["psp"] == "stripe")
    assert stripe["first_at"] == now - timedelta(minutes=5)
