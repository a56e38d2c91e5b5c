"""Money moves only on STP's own word. Each test sends what an attacker holding the channel's
valid Basic credentials (from an allowed address) could send, or what STP sends while its query
API fails, then waits several times the forwarder's sweep interval: the payment must show
exactly the money STP's ledger reports, and an unconfirmed notification is never forwarded."""

import asyncio
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.forwarder import SWEEP_EVERY_S
from tests.e2e.helpers import charge, create, events, wait_for_status, wait_until
from tests.e2e.test_stp import STP_BODY, abono, inbox_row, pay, post_abono
from tests.e2e.test_webhook_receiver import assert_problem
from tests.stack import CobroProcesses

# Long enough for several sweeps and several confirmation attempts (backoff 2 s, 4 s, ...).
WELL_PAST_THE_SWEEP_S = 5 * SWEEP_EVERY_S


async def payment_of(api: httpx.AsyncClient, payment_id: str) -> dict[str, Any]:
    seen: dict[str, Any] = (await api.get(f"/v1/payments/{payment_id}")).json()
    return seen


async def test_a_forged_deposit_is_never_credited_by_the_sweep(
    cobro: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    payment = (await create(api, STP_BODY)).json()
    forged = abono(payment["psp_reference"], monto=200.0)
    assert_problem(await post_abono(cobro.api_url, forged), 503)

    await asyncio.sleep(WELL_PAST_THE_SWEEP_S)
    seen = await payment_of(api, payment["id"])
    assert (seen["status"], seen["amount_received"]) == ("awaiting_payment", 0)
    assert (await charge(sim, payment["psp_reference"]))["amount_paid"] == 0
    row = await inbox_row(sessions, f"stp:{forged['id']}")
    assert row is not None and row.payment_id == payment["id"]
    # Stored as it arrived, never made forwardable, and STP asked again while it waited.
    assert row.raw_body.startswith(b"{") and row.event is None and row.forwarded_at is None
    assert row.confirm_attempts >= 3 and row.rejected_reason is None


async def test_an_inflated_notification_of_a_real_deposit_is_refused(
    cobro: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    payment = (await create(api, STP_BODY)).json()
    real = (await pay(sim, payment["psp_reference"], 20_000))["abono"]

    async def partly_paid() -> bool:
        return bool((await payment_of(api, payment["id"]))["amount_received"] == 20_000)

    await wait_until(partly_paid, "the real 200 MXN to be credited")

    # The same transfer (STP's tracking key) notified again as the full 250 MXN.
    inflated = abono(payment["psp_reference"], monto=250.0, claveRastreo=real["claveRastreo"])
    response = await post_abono(cobro.api_url, inflated)
    assert_problem(response, 422)
    assert real["claveRastreo"] in response.json()["detail"] and "200" in response.json()["detail"]

    await asyncio.sleep(WELL_PAST_THE_SWEEP_S)
    seen = await payment_of(api, payment["id"])
    assert (seen["status"], seen["amount_received"]) == ("awaiting_payment", 20_000)
    assert (await charge(sim, payment["psp_reference"]))["amount_paid"] == 20_000
    row = await inbox_row(sessions, f"stp:{inflated['id']}")
    assert row is not None and row.event is None and row.forwarded_at is None
    assert row.rejected_reason is not None and "250" not in str(row.event)


async def test_a_real_deposit_waits_for_stps_query_api_and_is_credited_once_it_answers(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    payment = (await create(api, STP_BODY)).json()
    await sim.put("/_sim/chaos", json={"psp_down": ["stp"]})
    deposit = (await pay(sim, payment["psp_reference"]))["abono"]

    async def stored() -> Any:
        return await inbox_row(sessions, f"stp:{deposit['id']}")

    await wait_until(stored, "the notification to be stored")
    await asyncio.sleep(WELL_PAST_THE_SWEEP_S)
    seen = await payment_of(api, payment["id"])
    assert (seen["status"], seen["amount_received"]) == ("awaiting_payment", 0)
    row = await inbox_row(sessions, f"stp:{deposit['id']}")
    assert row is not None and row.event is None and row.forwarded_at is None

    await sim.put("/_sim/chaos", json={})  # STP answers again
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=60)
    assert done["amount_received"] == STP_BODY["amount"]
    assert [e["to_status"] for e in await events(api, payment["id"])].count("succeeded") == 1

    # The workflow's own poll of STP may have credited it first; the notification itself is
    # forwarded once the forwarder's next confirmation attempt (with backoff) gets STP's answer.
    async def confirmed() -> Any:
        row = await inbox_row(sessions, f"stp:{deposit['id']}")
        return row if row is not None and row.forwarded_at is not None else None

    row = await wait_until(confirmed, "the notification to be confirmed", timeout_s=60)
    assert (
        row.event is not None and row.event["amount_received"] == STP_BODY["amount"]
    )  # STP's total, not the notice's
