"""Daily reconciliation against the PSP's settlement report (Stripe balance transactions in
the simulator), by Mexico City business day: it finds exactly the mismatches injected."""

import asyncio
import json
from datetime import UTC, datetime

import httpx
from temporalio.client import Client

from cobro import search_attributes as sa
from cobro.domain.business_day import business_day
from tests.e2e.helpers import OXXO_BODY, SPEI_BODY, create, run_cli, wait_for_status
from tests.stack import CobroProcesses


async def _paid(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    body: dict[str, object],
) -> dict[str, object]:
    payment = (await create(api, body)).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    return await wait_for_status(api, str(payment["id"]), "succeeded")


async def test_a_day_of_traffic_reconciles_to_exactly_the_injected_mismatches(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    cobro: CobroProcesses,
    temporal_client: Client,
) -> None:
    good, short, lost = [await _paid(api, sim, OXXO_BODY) for _ in range(3)]
    refunded = await _paid(api, sim, SPEI_BODY)
    refund = await api.post(
        f"/v1/payments/{refunded['id']}/refunds",
        json={"amount": 5_000},
        headers={"Idempotency-Key": "recon-refund"},
    )
    assert refund.json()["status"] == "succeeded"

    # The PSP's report disagrees three ways.
    injected = [
        {"op": "set_amount", "source": short["psp_reference"], "amount": 24_000},
        {"op": "remove", "source": lost["psp_reference"]},
        {"op": "add", "source": "pi_ghost_recon", "amount": 7_700},
    ]
    for change in injected:
        assert (await sim.post("/_sim/stripe/balance_transactions", json=change)).is_success

    day = business_day(datetime.now(UTC))
    [summary_line] = await run_cli(cobro.env, "recon", "run", str(day))
    summary = json.loads(summary_line)
    assert short["id"] in summary["mismatched_payments"]
    assert lost["id"] in summary["mismatched_payments"]

    report = (await api.get(f"/v1/reconciliation/{day}")).json()
    mine = {(line["line_type"], line["payment_id"]): line for line in report["data"]}
    assert {k: v["result"] for k, v in mine.items()} == {
        ("charge", good["id"]): "matched",
        ("charge", short["id"]): "amount_mismatch",
        ("charge", lost["id"]): "missing_at_psp",
        ("charge", refunded["id"]): "matched",
        ("refund", refunded["id"]): "matched",
    }
    assert (
        mine[("charge", short["id"])]["cobro_amount"],
        mine[("charge", short["id"])]["psp_amount"],
    ) == (25_000, 24_000)
    assert mine[("refund", refunded["id"])]["psp_amount"] == -5_000

    # Money at the PSP that cobro has no record of belongs to no merchant: ops see it.
    everything = [json.loads(line) for line in await run_cli(cobro.env, "recon", "show", str(day))]
    ghost = [line for line in everything if line["psp_reference"] == "pi_ghost_recon"]
    assert [(g["result"], g["psp_amount"], g["merchant_id"]) for g in ghost] == [
        ("missing_in_cobro", 7_700, None)
    ]

    # Ops find the mismatched payments in Temporal.
    handle = temporal_client.get_workflow_handle(f"payment-{short['id']}")
    for _ in range(100):
        flags = (await handle.describe()).typed_search_attributes.get(sa.PAYMENT_FLAGS)
        if flags:
            break
        await asyncio.sleep(0.1)
    assert flags == ["reconciliation_mismatch"]
