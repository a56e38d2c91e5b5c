"""cobro's side of STP's reconciliation is taken over STP's operating day: a payment that
succeeded after Friday's 18:00 cut-off, or on the Saturday, counts on Monday, where STP's report
files its deposit; the same instants stay on their Mexico City calendar day for other PSPs."""

from collections.abc import AsyncIterator, Callable, Mapping
from datetime import date, datetime

import pytest
from alembic import command
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from cobro.db.migrate import alembic_config
from cobro.db.models import Merchant, Payment, PaymentEvent
from cobro.domain.expiry import MEXICO_CITY
from cobro.domain.ids import new_id
from cobro.reconciliation.matching import cobro_lines

FRIDAY, SATURDAY, MONDAY = date(2026, 11, 27), date(2026, 11, 28), date(2026, 11, 30)


@pytest.fixture(scope="module")
def migrated_url(new_database: Callable[[], str]) -> str:
    url = new_database()
    command.upgrade(alembic_config(url), "head")  # runs its own event loop: not in an async one
    return url


@pytest.fixture(scope="module")
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    created = create_async_engine(migrated_url)
    yield created
    await created.dispose()


def _mx(day: date, hour: int, minute: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=MEXICO_CITY)


async def _succeeded(session: AsyncSession, merchant_id: str, psp: str, at: datetime) -> str:
    payment_id = new_id("pay")
    await session.execute(
        insert(Payment).values(
            id=payment_id,
            merchant_id=merchant_id,
            status="succeeded",
            amount=25_000,
            amount_received=25_000,
            currency="MXN",
            method="spei",
            psp=psp,
            psp_reference=f"ref-{payment_id}",
            customer={"name": "Ana"},
            metadata_={},
        )
    )
    await session.execute(
        insert(PaymentEvent).values(
            id=new_id("evt"),
            payment_id=payment_id,
            seq=1,
            from_status="awaiting_payment",
            to_status="succeeded",
            at=at,
            source="psp_webhook",
        )
    )
    return f"ref-{payment_id}"


async def test_stp_payments_count_on_their_operating_day(engine: AsyncEngine) -> None:
    async with AsyncSession(engine) as session:
        merchant_id = new_id("mer")
        await session.execute(insert(Merchant).values(id=merchant_id, name="Cut-off"))
        before = await _succeeded(session, merchant_id, "stp", _mx(FRIDAY, 17, 59))
        after = await _succeeded(session, merchant_id, "stp", _mx(FRIDAY, 18, 1))
        late = await _succeeded(session, merchant_id, "stp", _mx(FRIDAY, 23, 59))
        weekend = await _succeeded(session, merchant_id, "stp", _mx(SATURDAY, 11, 0))
        stripe_late = await _succeeded(session, merchant_id, "stripe", _mx(FRIDAY, 23, 59))

        def refs(lines: Mapping[tuple[str, str], object]) -> set[str]:
            return {reference for _, reference in lines}

        assert refs(await cobro_lines(session, "stp", FRIDAY)) == {before}
        assert refs(await cobro_lines(session, "stp", SATURDAY)) == set()
        assert refs(await cobro_lines(session, "stp", MONDAY)) == {after, late, weekend}
        # Other PSPs keep Mexico City's calendar day.
        assert refs(await cobro_lines(session, "stripe", FRIDAY)) == {stripe_late}
        await session.rollback()
