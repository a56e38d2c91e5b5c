"""Daily reconciliation against every PSP's own settlement report (Stripe's balance
transactions, Conekta's charge list, STP's conciliation, MoonPay's transaction list, served by
the simulator from its ledger), by Mexico City business day (STP: by its operating day): a day
of traffic at all four PSPs reconciles to exactly the mismatches injected into the reports, and
an STP over-payment shows its excess next to the transfer that returned it."""

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import httpx
from temporalio.client import Client

from cobro import search_attributes as sa
from cobro.domain.business_day import business_day
from cobro.psp.stp.operating_day import operating_day
from tests.e2e.helpers import OXXO_BODY, SPEI_BODY, create, run_cli, wait_for_status, wait_until
from tests.e2e.test_moonpay import CRYPTO_BODY, buy
from tests.e2e.test_stp import unregistered_clabe
from tests.stack import CobroProcesses

CONEKTA_OXXO: dict[str, Any] = {**OXXO_BODY, "psp": "conekta"}
STP_SPEI: dict[str, Any] = {**SPEI_BODY, "psp": "stp"}


async def _paid(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    body: dict[str, Any],
    deposits: tuple[int | None, ...] = (None,),
) -> dict[str, Any]:
    """A payment the customer paid in full: in one go, or in several transfers (STP)."""
    response = await create(api, body)
    assert response.status_code == 201, response.text
    payment = response.json()
    if payment["psp"] == "moonpay":  # the customer buys in MoonPay's widget
        await buy(sim, payment)
        return await wait_for_status(api, str(payment["id"]), "succeeded")
    for amount in deposits:
        pay = {"psp_reference": payment["psp_reference"]}
        paid = await sim.post(
            "/_sim/pay", json=pay if amount is None else {**pay, "amount": amount}
        )
        assert paid.status_code == 200, paid.text
    return await wait_for_status(api, str(payment["id"]), "succeeded")


async def _refund(api: httpx.AsyncClient, payment: dict[str, Any], amount: int) -> None:
    refund = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": amount},
        headers={"Idempotency-Key": f"recon-refund-{payment['id']}"},
    )
    assert refund.json()["status"] == "succeeded", refund.text


async def _inject(sim: httpx.AsyncClient, psp: str, **change: Any) -> None:
    path = "/_sim/stripe/balance_transactions" if psp == "stripe" else f"/_sim/{psp}/report"
    if psp == "stripe":  # Stripe's report names the reference `source`
        change["source"] = change.pop("reference")
    response = await sim.post(path, json=change)
    assert response.is_success, response.text


async def test_a_day_at_every_psp_reconciles_to_exactly_the_injected_mismatches(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    cobro: CobroProcesses,
    temporal_client: Client,
) -> None:
    stripe_good, stripe_short, stripe_lost = [await _paid(api, sim, OXXO_BODY) for _ in range(3)]
    stripe_refunded = await _paid(api, sim, SPEI_BODY)
    await _refund(api, stripe_refunded, 5_000)
    conekta_good, conekta_short, conekta_lost = [
        await _paid(api, sim, CONEKTA_OXXO) for _ in range(3)
    ]
    stp_good, stp_short, stp_lost, stp_refunded = [
        await _paid(api, sim, STP_SPEI) for _ in range(4)
    ]
    # Two transfers to one CLABE are one line: STP's deposits count per CLABE.
    stp_split = await _paid(api, sim, STP_SPEI, deposits=(10_000, 15_000))
    await _refund(api, stp_refunded, 5_000)  # an outbound transfer from the CLABE
    moonpay_good, moonpay_short, moonpay_lost = [
        await _paid(api, sim, CRYPTO_BODY) for _ in range(3)
    ]

    # Each PSP's report disagrees: an amount, a missing line, money cobro never saw.
    ghost_clabe = unregistered_clabe()

    def ref(payment: dict[str, Any]) -> str:
        return str(payment["psp_reference"])

    injected: list[tuple[str, str, str, int, str]] = [  # psp, op, reference, amount, line type
        ("stripe", "set_amount", ref(stripe_short), 24_000, "charge"),
        ("stripe", "remove", ref(stripe_lost), 0, "charge"),
        ("stripe", "add", "pi_ghost_recon", 7_700, "charge"),
        ("conekta", "set_amount", ref(conekta_short), 24_500, "charge"),
        ("conekta", "remove", ref(conekta_lost), 0, "charge"),
        ("conekta", "add", "ord_ghost_recon", 8_800, "charge"),
        ("stp", "set_amount", ref(stp_short), 24_900, "charge"),
        ("stp", "remove", ref(stp_lost), 0, "charge"),
        ("stp", "add", ghost_clabe, 9_900, "charge"),
        ("stp", "set_amount", ref(stp_refunded), 4_000, "refund"),
        ("moonpay", "set_amount", ref(moonpay_short), 49_000, "charge"),
        ("moonpay", "remove", ref(moonpay_lost), 0, "charge"),
        ("moonpay", "add", "pay_ghost_recon", 6_600, "charge"),
    ]
    for psp, op, reference, amount, line_type in injected:
        await _inject(sim, psp, op=op, reference=reference, amount=amount, type=line_type)

    now = datetime.now(UTC)
    # STP files money under its operating day: after its 18:00 cut-off, or on a weekend, that
    # is a later day than Mexico City's calendar day, which the other PSPs use.
    day, stp_day = business_day(now), operating_day(now)
    days = sorted({day, stp_day})

    def day_of(psp: str) -> date:
        """The day a PSP's lines are filed under (the same for all on a weekday before 18:00)."""
        return stp_day if psp == "stp" else day

    summaries = [
        json.loads(line) for d in days for line in await run_cli(cobro.env, "recon", "run", str(d))
    ]
    summary = {"mismatched_payments": [p for s in summaries for p in s["mismatched_payments"]]}
    every_psp = {"stripe", "conekta", "stp", "moonpay", "mercadopago"}
    assert all(set(s["by_psp"]) == every_psp for s in summaries)
    mismatched = [stripe_short, stripe_lost, conekta_short, conekta_lost, stp_short, stp_lost]
    mismatched += [stp_refunded, moonpay_short, moonpay_lost]
    everyone = [stripe_good, stripe_refunded, conekta_good, stp_good, stp_split, moonpay_good]
    mine = {p["id"] for p in mismatched + everyone}
    assert set(summary["mismatched_payments"]) & mine == {p["id"] for p in mismatched}

    lines = {
        (x["psp"], x["line_type"], x["payment_id"]): x
        for d in days
        for x in (await api.get(f"/v1/reconciliation/{d}")).json()["data"]
        if d == day_of(x["psp"])
    }
    assert {k: v["result"] for k, v in lines.items()} == {
        ("stripe", "charge", stripe_good["id"]): "matched",
        ("stripe", "charge", stripe_short["id"]): "amount_mismatch",
        ("stripe", "charge", stripe_lost["id"]): "missing_at_psp",
        ("stripe", "charge", stripe_refunded["id"]): "matched",
        ("stripe", "refund", stripe_refunded["id"]): "matched",
        ("conekta", "charge", conekta_good["id"]): "matched",
        ("conekta", "charge", conekta_short["id"]): "amount_mismatch",
        ("conekta", "charge", conekta_lost["id"]): "missing_at_psp",
        ("stp", "charge", stp_good["id"]): "matched",
        ("stp", "charge", stp_split["id"]): "matched",
        ("stp", "charge", stp_short["id"]): "amount_mismatch",
        ("stp", "charge", stp_lost["id"]): "missing_at_psp",
        ("stp", "charge", stp_refunded["id"]): "matched",
        ("stp", "refund", stp_refunded["id"]): "amount_mismatch",
        ("moonpay", "charge", moonpay_good["id"]): "matched",
        ("moonpay", "charge", moonpay_short["id"]): "amount_mismatch",
        ("moonpay", "charge", moonpay_lost["id"]): "missing_at_psp",
    }

    def amounts(psp: str, line_type: str, payment: dict[str, Any]) -> tuple[int, int]:
        line = lines[(psp, line_type, payment["id"])]
        return line["cobro_amount"], line["psp_amount"]

    assert amounts("stripe", "charge", stripe_short) == (25_000, 24_000)
    assert amounts("stripe", "refund", stripe_refunded) == (-5_000, -5_000)
    assert amounts("conekta", "charge", conekta_short) == (25_000, 24_500)
    assert amounts("stp", "charge", stp_split) == (25_000, 25_000)
    assert amounts("stp", "charge", stp_short) == (25_000, 24_900)
    assert amounts("stp", "refund", stp_refunded) == (-5_000, -4_000)
    assert amounts("moonpay", "charge", moonpay_short) == (50_000, 49_000)

    # Money at a PSP that cobro has no record of belongs to no merchant: ops see it.
    everything = [
        g
        for d in days
        for g in map(json.loads, await run_cli(cobro.env, "recon", "show", str(d)))
        if d == day_of(g["psp"])
    ]
    ghosts = {"pi_ghost_recon", "ord_ghost_recon", ghost_clabe, "pay_ghost_recon"}
    assert sorted(
        (g["psp"], g["result"], g["psp_amount"], g["merchant_id"])
        for g in everything
        if g["psp_reference"] in ghosts
    ) == [
        ("conekta", "missing_in_cobro", 8_800, None),
        ("moonpay", "missing_in_cobro", 6_600, None),
        ("stp", "missing_in_cobro", 9_900, None),
        ("stripe", "missing_in_cobro", 7_700, None),
    ]

    # Ops find the mismatched payments in Temporal.
    for payment in (stripe_short, stp_refunded, moonpay_lost):
        handle = temporal_client.get_workflow_handle(f"payment-{payment['id']}")
        for _ in range(100):
            flags = (await handle.describe()).typed_search_attributes.get(sa.PAYMENT_FLAGS)
            if flags:
                break
            await asyncio.sleep(0.1)
        assert flags == ["reconciliation_mismatch"], payment["psp"]


async def test_an_stp_over_payment_shows_the_excess_next_to_its_return(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, cobro: CobroProcesses
) -> None:
    # STP reports every deposit to the payment's CLABE, the excess too; cobro's late-money rule
    # sends the excess back from that CLABE, and STP reports that transfer as well.
    payment = await _paid(api, sim, STP_SPEI, deposits=(30_000,))

    async def returned() -> bool:
        refunds = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
        return [(r["amount"], r["status"]) for r in refunds] == [(5_000, "succeeded")]

    await wait_until(returned, "the excess going back to the payer")
    day = operating_day(datetime.now(UTC))  # STP's report is by its operating day
    await run_cli(cobro.env, "recon", "run", str(day))
    report = (await api.get(f"/v1/reconciliation/{day}")).json()
    assert sorted(
        (x["line_type"], x["result"], x["cobro_amount"], x["psp_amount"]) for x in report["data"]
    ) == [
        ("charge", "amount_mismatch", 25_000, 30_000),
        ("refund", "matched", -5_000, -5_000),
    ]
