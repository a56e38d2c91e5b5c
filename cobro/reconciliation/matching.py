"""Matching: what cobro recorded for a Mexico City business day (succeeded charges, completed
refunds) against one PSP's report lines, stored line by line per PSP. A PSP whose report files
money under its own day (STP's operating day: 18:00 cut-off, business days only) is compared
over that day's window instead (Wiring.report_day)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import Payment, PaymentEvent, ReconciliationItem, Refund
from cobro.domain.business_day import day_window
from cobro.psp.connectors import BY_NAME, CONNECTORS
from cobro.reconciliation.lines import Key

# PSPs that send late and excess money back from the payment's own reference, so their report
# shows those refunds with the payment's (Capability.late_refunds_on_reference). Others refund
# it from elsewhere (Stripe: the customer's cash balance), which their report here leaves out.
LATE_REFUNDS_ON_REFERENCE = frozenset(
    c.name for c in CONNECTORS if c.capability.late_refunds_on_reference
)


def _window(psp: str, day: date) -> tuple[datetime, datetime]:
    connector = BY_NAME.get(psp)
    report_day = connector.wiring().report_day if connector is not None else None
    return (report_day or day_window)(day)


@dataclass(frozen=True)
class Expected:
    amount: int
    payment_id: str
    merchant_id: str


async def cobro_lines(session: AsyncSession, psp: str, day: date) -> dict[Key, Expected]:
    """Charges that succeeded and refunds that completed during the day, as cobro saw them."""
    start, end = _window(psp, day)
    lines: dict[Key, Expected] = {}
    paid = await session.execute(
        select(Payment.id, Payment.merchant_id, Payment.psp_reference, Payment.amount)
        .join(PaymentEvent, PaymentEvent.payment_id == Payment.id)
        .where(
            Payment.psp == psp,
            PaymentEvent.kind == "transition",
            PaymentEvent.to_status == "succeeded",
            PaymentEvent.at >= start,
            PaymentEvent.at < end,
        )
    )
    for row in paid:
        lines[("charge", row.psp_reference)] = Expected(row.amount, row.id, row.merchant_id)
    completed = [
        Payment.psp == psp,
        Refund.status == "succeeded",
        Refund.updated_at >= start,
        Refund.updated_at < end,
    ]
    if psp not in LATE_REFUNDS_ON_REFERENCE:
        completed.append(Refund.origin != "late_payment")
    refunded = await session.execute(
        select(Payment.id, Payment.merchant_id, Payment.psp_reference, Refund.amount)
        .join(Refund, Refund.payment_id == Payment.id)
        .where(*completed)
    )
    for row in refunded:
        key = ("refund", row.psp_reference)
        before = lines.get(key)
        total = (before.amount if before else 0) - row.amount
        lines[key] = Expected(total, row.id, row.merchant_id)
    return lines


async def reconcile(
    session: AsyncSession, psp: str, day: date, psp_lines: dict[Key, int]
) -> list[ReconciliationItem]:
    """Compare, replace the day's stored results for this PSP, and return them."""
    ours = await cobro_lines(session, psp, day)
    now = datetime.now(UTC)
    items = []
    for key in sorted(set(ours) | set(psp_lines)):
        expected, reported = ours.get(key), psp_lines.get(key)
        if expected is None:
            result = "missing_in_cobro"
        elif reported is None:
            result = "missing_at_psp"
        else:
            result = "matched" if expected.amount == reported else "amount_mismatch"
        items.append(
            ReconciliationItem(
                day=day,
                psp=psp,
                result=result,
                line_type=key[0],
                psp_reference=key[1],
                payment_id=expected.payment_id if expected else None,
                merchant_id=expected.merchant_id if expected else None,
                cobro_amount=expected.amount if expected else None,
                psp_amount=reported,
                reconciled_at=now,
            )
        )
    if reported_only := [i for i in items if i.payment_id is None]:
        # A PSP line cobro has no record of for that day may still be one of our payments.
        refs = {i.psp_reference for i in reported_only}
        owners = dict(
            (
                await session.execute(
                    select(Payment.psp_reference, Payment.id).where(
                        Payment.psp == psp, Payment.psp_reference.in_(refs)
                    )
                )
            )
            .tuples()
            .all()
        )
        for item in reported_only:
            item.payment_id = owners.get(item.psp_reference)
    await session.execute(
        delete(ReconciliationItem).where(
            ReconciliationItem.day == day, ReconciliationItem.psp == psp
        )
    )
    session.add_all(items)
    return items


async def items_for(
    session: AsyncSession, day: date, merchant_id: str | None = None
) -> list[ReconciliationItem]:
    query = select(ReconciliationItem).where(ReconciliationItem.day == day)
    if merchant_id is not None:
        query = query.where(ReconciliationItem.merchant_id == merchant_id)
    return list(await session.scalars(query.order_by(ReconciliationItem.id)))
