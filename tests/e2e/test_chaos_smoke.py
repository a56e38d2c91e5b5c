"""`make chaos` in small, so CI guards it (SPEC §8): a few payments through one kill -9 of the
worker and one storm of duplicate webhooks, then every payment checked against the simulator's
ledger with the same code as bench/chaos.py: nothing lost, nothing doubled, no wrong status."""

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from bench.chaos_check import (
    Order,
    OrderSpec,
    Tally,
    create_until_ok,
    judge,
    make_orders,
    pay,
    send_stripe_webhook,
    settle,
    stripe_intent,
    stripe_webhook,
)
from tests.stack import CobroProcesses

SHORT = 6  # seconds: SPEI payments that expire (one of them partly paid) within the test
SMOKE_MIX = (
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "pay", 3_600),
    OrderSpec("oxxo", "conekta", "pay", 3 * 86_400),
    OrderSpec("spei", None, "expire", SHORT),
    OrderSpec("spei", None, "partial", SHORT),
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
)
STORM_COPIES = 10


async def _storm(api: httpx.AsyncClient, sim: httpx.AsyncClient, orders: list[Order]) -> Tally:
    """Each paid Stripe payment's `payment_intent.succeeded`, the same event many times at once."""
    tally = Tally()
    bodies = []
    for order in orders:
        if order.payment and order.payment["psp"] == "stripe" and order.spec.plan == "pay":
            intent = await stripe_intent(sim, order.payment["psp_reference"])
            if intent["status"] == "succeeded":
                bodies.append(stripe_webhook(intent))
    acks = await asyncio.gather(
        *(send_stripe_webhook(api, body, tally) for body in bodies for _ in range(STORM_COPIES))
    )
    assert bodies and all(acks), tally.responses
    return tally


async def test_a_worker_kill_and_a_duplicate_storm_lose_and_double_nothing(
    cobro: CobroProcesses, api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    await sim.put(
        "/_sim/chaos", json={"duplicate_rate": 1.0, "reorder": True, "webhook_delay_ms": 200}
    )
    orders = make_orders(len(SMOKE_MIX), SMOKE_MIX)
    first, rest = orders[:3], orders[3:]
    tally = Tally()
    assert all(await asyncio.gather(*(create_until_ok(api, o, tally, 40) for o in first)))

    cobro.kill("worker")  # kill -9 mid-flow: the first charges exist, nothing is paid yet
    try:
        # The customers pay while no worker runs (the webhooks' signals wait in Temporal) and
        # the rest are created (their create waits for a worker to make the charge).
        paying = asyncio.gather(*(pay(api, sim, o) for o in first))
        creating = asyncio.gather(*(create_until_ok(api, o, tally, 40) for o in rest))
        await asyncio.sleep(1)
    finally:
        cobro.start_role("worker")
    await paying
    assert all(await creating), [o.errors for o in rest]
    await asyncio.gather(*(pay(api, sim, o) for o in rest))

    storm = await _storm(api, sim, orders)
    assert storm.api_5xx == 0, storm.server_errors

    report = await settle(api, sim, orders, deadline_s=40, fresh_stack=False)
    assert (report.count("lost"), report.count("doubled"), report.count("wrong")) == (0, 0, 0), (
        report.describe()
    )
    assert report.clean, report.describe()
    assert report.statuses == {"succeeded": 4, "expired": 2}, report.statuses


def _payment(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "pay_1",
        "status": status,
        "amount": 25_000,
        "amount_received": 0,
        "amount_refunded": 0,
        "psp_reference": "pi_1",
        "expires_at": "2999-01-01T00:00:00Z",
        **fields,
    }


def _charge(status: str, **fields: Any) -> dict[str, Any]:
    return {
        "id": "pi_1",
        "psp": "stripe",
        "idempotency_key": "cobro-payment-pay_1",
        "create_calls": 1,
        "amount": 25_000,
        "amount_paid": 0,
        "amount_refunded": 0,
        "status": status,
        **fields,
    }


def test_the_check_catches_lost_doubled_and_wrong_payments() -> None:
    """The checker itself: each kind of disagreement with the ledger is named as it should be."""
    now = datetime.now(UTC)
    paid = {"amount_paid": 25_000}

    def kinds(payment: dict[str, Any] | None, charges: list[dict[str, Any]]) -> set[str]:
        return {f.category for f in judge("pay_1", payment, charges, now)}

    ok = _payment("succeeded", amount_received=25_000)
    assert kinds(ok, [_charge("succeeded", **paid)]) == set()
    assert kinds(_payment("awaiting_payment"), [_charge("requires_action")]) == set()
    assert kinds(None, [_charge("requires_action")]) == {"lost"}  # 404
    # Paid at the PSP, still waiting in cobro (and the money not shown): lost.
    assert kinds(_payment("awaiting_payment"), [_charge("succeeded", **paid)]) == {"lost"}
    # Expired in cobro while the voucher is still payable at the PSP: wrong.
    assert kinds(_payment("expired"), [_charge("requires_action")]) == {"wrong"}
    assert kinds(_payment("succeeded"), [_charge("canceled")]) == {"wrong"}
    assert kinds(_payment("expired"), [_charge("canceled")]) == set()
    # A partial transfer cobro does not show: lost money.
    assert kinds(_payment("expired"), [_charge("canceled", amount_paid=10_000)]) == {"lost"}
    # Two live charges for one payment (one at another PSP), or two at the same PSP: doubled.
    other = _charge("pending_payment", id="ord_1", psp="conekta")
    assert kinds(_payment("awaiting_payment"), [_charge("requires_action"), other]) == {"doubled"}
    voided_twin = _charge("canceled", id="pi_2")
    assert kinds(_payment("awaiting_payment"), [_charge("requires_action"), voided_twin]) == {
        "doubled"
    }
    # A payment due to expire soon must be seen expiring; a voucher open for days may wait.
    soon = (now + timedelta(seconds=5)).isoformat()
    assert kinds(_payment("awaiting_payment", expires_at=soon), [_charge("requires_action")]) == {
        "lost"
    }
    # Conekta and STP speak their own statuses.
    order = _charge("paid", id="ord_1", psp="conekta", **paid)
    assert kinds(_payment("succeeded", psp_reference="ord_1", amount_received=25_000), [order]) == (
        set()
    )
    clabe = _charge("registered", id="646180", psp="stp")
    assert kinds(_payment("expired", psp_reference="646180"), [clabe]) == set()
