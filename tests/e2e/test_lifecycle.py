"""The payment lifecycle against the real stack: cancel, refunds, expiry with partial money,
late money, and webhooks that are lost, duplicated or reordered (SPEC §3-§5)."""

from typing import Any

import httpx

from tests.e2e.helpers import (
    OXXO_BODY,
    SPEI_BODY,
    charge,
    create,
    events,
    wait_for_status,
    wait_until,
)


async def test_cancel_voids_the_voucher_and_a_second_cancel_is_409(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    canceled = await api.post(
        f"/v1/payments/{payment['id']}/cancel", json={"reason": "customer changed their mind"}
    )
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert (await charge(sim, payment["psp_reference"]))["status"] == "canceled"
    last = (await events(api, payment["id"]))[-1]
    assert (last["from_status"], last["to_status"], last["source"]) == (
        "awaiting_payment",
        "canceled",
        "api",
    )
    assert last["detail"] == "customer changed their mind"

    again = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"


async def test_a_paid_payment_cannot_be_canceled(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded")
    response = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert response.status_code == 409
    assert "succeeded" in response.json()["detail"]


async def test_partial_then_full_refund_of_a_spei_payment(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, SPEI_BODY)).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded")
    url = f"/v1/payments/{payment['id']}/refunds"

    first = await api.post(
        url,
        json={"amount": 5_000, "reason": "one item returned"},
        headers={"Idempotency-Key": "refund-1"},
    )
    assert first.status_code == 201, first.text
    refund = first.json()
    assert refund["id"].startswith("re_") and refund["status"] == "succeeded"
    assert refund["amount"] == 5_000
    replay = await api.post(
        url,
        json={"amount": 5_000, "reason": "one item returned"},
        headers={"Idempotency-Key": "refund-1"},
    )
    assert replay.status_code == 200 and replay.json()["id"] == refund["id"]
    reused = await api.post(url, json={"amount": 6_000}, headers={"Idempotency-Key": "refund-1"})
    assert reused.status_code == 409

    partly = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert partly["status"] == "partially_refunded" and partly["amount_refunded"] == 5_000

    too_much = await api.post(url, json={"amount": 20_001}, headers={"Idempotency-Key": "r-2"})
    assert too_much.status_code == 422 and "20000" in too_much.json()["detail"]

    rest = await api.post(url, json={}, headers={"Idempotency-Key": "refund-rest"})
    assert rest.status_code == 201 and rest.json()["amount"] == 20_000
    done = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert done["status"] == "refunded" and done["amount_refunded"] == 25_000
    assert (await charge(sim, payment["psp_reference"]))["amount_refunded"] == 25_000

    listed = (await api.get(url)).json()["data"]
    assert [r["amount"] for r in listed] == [5_000, 20_000]
    nothing_left = await api.post(url, json={}, headers={"Idempotency-Key": "refund-3"})
    assert nothing_left.status_code == 409


async def test_oxxo_payments_cannot_be_refunded_and_say_why(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded")
    response = await api.post(
        f"/v1/payments/{payment['id']}/refunds", json={}, headers={"Idempotency-Key": "oxxo-refund"}
    )
    assert response.status_code == 422
    assert "oxxo" in response.json()["detail"]
    assert (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"] == []


async def test_a_partial_transfer_waits_then_expires_and_is_refunded(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**SPEI_BODY, "expires_in": 3})).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"], "amount": 10_000})
    expired = await wait_for_status(api, payment["id"], "expired", timeout_s=30)
    assert expired["amount_received"] == 10_000

    async def refunded() -> Any:
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        return current if current["amount_refunded"] == 10_000 else None

    await wait_until(refunded, "refund of the partial payment")
    kinds = [(e["type"], e["to_status"]) for e in await events(api, payment["id"])]
    assert ("partial_payment", "awaiting_payment") in kinds
    assert kinds.index(("transition", "expired")) < kinds.index(("late_payment", "expired"))
    refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
    assert [(r["amount"], r["status"], r["origin"]) for r in refunds] == [
        (10_000, "succeeded", "late_payment")
    ]
    truth = await charge(sim, payment["psp_reference"])
    assert (truth["amount_paid"], truth["amount_refunded"]) == (10_000, 10_000)


async def test_money_after_expiry_is_recorded_as_late_and_refunded(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**SPEI_BODY, "expires_in": 1})).json()
    await wait_for_status(api, payment["id"], "expired", timeout_s=30)
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})

    async def refunded() -> Any:
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        return current if current["amount_refunded"] == 25_000 else None

    final = await wait_until(refunded, "automatic refund of the late payment")
    assert final["status"] == "expired"  # a final status never moves back
    assert final["amount_received"] == 25_000
    late = [e for e in await events(api, payment["id"]) if e["type"] == "late_payment"]
    assert "25000 centavos arrived while expired" in late[0]["detail"]
    truth = await charge(sim, payment["psp_reference"])
    assert (truth["amount_paid"], truth["amount_refunded"]) == (25_000, 25_000)


async def test_a_lost_webhook_is_recovered_by_polling(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, OXXO_BODY)).json()
    await sim.put("/_sim/chaos", json={"drop_rate": 1.0})
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)
    assert done["amount_received"] == 25_000
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "psp_poll")


async def test_duplicated_and_reordered_webhooks_apply_once(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    await sim.put(
        "/_sim/chaos", json={"duplicate_rate": 1.0, "reorder": True, "webhook_delay_ms": 300}
    )
    payment = (await create(api, SPEI_BODY)).json()
    reference = payment["psp_reference"]
    await sim.post("/_sim/pay", json={"psp_reference": reference, "amount": 10_000})
    await sim.post("/_sim/pay", json={"psp_reference": reference, "amount": 15_000})
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)
    assert done["amount_received"] == 25_000
    transitions = [
        e["to_status"] for e in await events(api, payment["id"]) if e["type"] == "transition"
    ]
    assert transitions == ["pending", "awaiting_payment", "succeeded"]


async def test_psp_errors_and_lost_responses_never_charge_twice(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    await sim.put("/_sim/chaos", json={"api_error_rate": 0.3, "api_latency_ms": 50})
    payments = []
    for i in range(8):
        key = f"flaky-{i}"
        response = await create(api, OXXO_BODY, key)
        while response.status_code == 503:  # the merchant retries with the same key
            response = await create(api, OXXO_BODY, key)
        assert response.status_code in (200, 201), response.text
        payments.append(response.json())
    await sim.put("/_sim/chaos", json={})

    # Each payment has exactly one live charge, the one it shows. A PSP that kept failing
    # past COBRO_FAILOVER_AFTER_SECONDS may also hold a charge whose answer was lost: cobro
    # fails over and voids that one in the background, so it must end canceled.
    async def one_live_charge_each() -> bool:
        charges = (await sim.get("/_sim/charges")).json()["data"]
        for payment in payments:
            mine = [c for c in charges if c["idempotency_key"] == f"cobro-payment-{payment['id']}"]
            live = [c["id"] for c in mine if c["status"] not in ("canceled",)]
            if live != [payment["psp_reference"]] or len({c["psp"] for c in mine}) != len(mine):
                return False
        return True

    await wait_until(one_live_charge_each, "exactly one live charge per payment", timeout_s=60)


async def test_list_is_newest_first_with_cursor_pagination_and_filters(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    created = [(await create(api, {**OXXO_BODY, "amount": 10_000 + i})).json() for i in range(3)]
    await sim.post("/_sim/pay", json={"psp_reference": created[0]["psp_reference"]})
    await wait_for_status(api, created[0]["id"], "succeeded")

    page = (await api.get("/v1/payments", params={"limit": 2})).json()
    assert [p["id"] for p in page["data"]] == [created[2]["id"], created[1]["id"]]
    assert page["has_more"] is True
    rest = (
        await api.get("/v1/payments", params={"limit": 2, "starting_after": created[1]["id"]})
    ).json()
    assert [p["id"] for p in rest["data"]] == [created[0]["id"]] and rest["has_more"] is False

    succeeded = (await api.get("/v1/payments", params={"status": "succeeded"})).json()["data"]
    assert [p["id"] for p in succeeded] == [created[0]["id"]]
    future = await api.get("/v1/payments", params={"created_gte": "2999-01-01T00:00:00Z"})
    assert future.json() == {"data": [], "has_more": False}

    assert (await api.get("/v1/payments", params={"limit": 0})).status_code == 422
    assert (await api.get("/v1/payments", params={"status": "paid"})).status_code == 422
    assert (await api.get("/v1/payments", params={"starting_after": "pay_nope"})).status_code == 404


async def test_an_over_payment_succeeds_and_the_excess_is_refunded(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, SPEI_BODY)).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"], "amount": 30_000})

    # Stripe reports the intent and the excess in two webhooks, in either order.
    async def settled() -> Any:
        current = (await api.get(f"/v1/payments/{payment['id']}")).json()
        done = current["status"] == "succeeded" and current["amount_refunded"] == 5_000
        return current if done else None

    # The order is paid (succeeded, not partially refunded); only the excess went back.
    final = await wait_until(settled, "success and the refund of the 5,000 centavos excess")
    assert final["amount_received"] == 30_000
    truth = await charge(sim, payment["psp_reference"])
    assert (truth["amount_paid"], truth["amount_refunded"]) == (30_000, 5_000)
