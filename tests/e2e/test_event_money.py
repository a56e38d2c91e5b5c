"""Every event says, in columns, the money it moved and the PSP that failed: written by the real
worker's projection, shown by GET /v1/payments/{id}/events, summed without reading `detail`."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import PaymentEvent
from tests.e2e.helpers import OXXO_BODY, SPEI_BODY, create, events, wait_for_status, wait_until


async def test_events_carry_the_money_received_and_refunded(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, SPEI_BODY)).json()
    reference = payment["psp_reference"]
    await sim.post("/_sim/pay", json={"psp_reference": reference, "amount": 10_000})

    async def partly_paid() -> Any:
        log = await events(api, payment["id"])
        return log if any(e["type"] == "partial_payment" for e in log) else None

    await wait_until(partly_paid, "the partial payment to be recorded")
    await sim.post("/_sim/pay", json={"psp_reference": reference, "amount": 15_000})
    await wait_for_status(api, payment["id"], "succeeded")
    refund = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 5_000},
        headers={"Idempotency-Key": f"money-{payment['id']}"},
    )
    assert refund.status_code == 201, refund.text
    final = await wait_for_status(api, payment["id"], "partially_refunded")

    log = await events(api, payment["id"])
    moving = [
        (e["type"], e["to_status"], e["received"], e["amount_received"])
        for e in log
        if e["received"] is not None
    ]
    assert moving == [
        ("partial_payment", "awaiting_payment", 10_000, 10_000),
        ("transition", "succeeded", 15_000, 25_000),
    ]
    refunds = [(e["to_status"], e["refunded"], e["amount_refunded"]) for e in log if e["refunded"]]
    assert refunds == [("partially_refunded", 5_000, 5_000)]
    # The log adds up to the payment, with no amount read out of words.
    assert sum(e["received"] or 0 for e in log) == final["amount_received"] == 25_000
    assert sum(e["refunded"] or 0 for e in log) == final["amount_refunded"] == 5_000


async def test_a_failover_names_the_psp_that_failed(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await sim.put("/_sim/chaos", json={"psp_down": ["stripe"]})
    payment = (await create(api, OXXO_BODY)).json()
    assert (payment["psp"], payment["status"]) == ("conekta", "awaiting_payment"), payment
    async with sessions() as session:
        rows = (
            await session.execute(
                select(PaymentEvent.kind, PaymentEvent.failed_psp)
                .where(PaymentEvent.payment_id == payment["id"])
                .order_by(PaymentEvent.seq)
            )
        ).all()
    assert ("failover", "stripe") in [tuple(r) for r in rows]
    assert all(psp is None for kind, psp in rows if kind != "failover")
