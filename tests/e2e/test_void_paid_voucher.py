"""What history version 5's expiry stands on (workflows/waiting.py, `_expire`): at every PSP
that takes OXXO, a paid voucher cannot be voided, and an unpaid one can. cobro's own adapters
(what the `cancel_charge` activity calls) against the simulator, which answers as each PSP."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest

from cobro.domain.expiry import oxxo_expires_at
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer, PaymentInput
from cobro.domain.routing import CAPABILITIES
from cobro.psp.errors import PspRejected
from cobro.psp.mercadopago.wiring import client as mercadopago_client
from cobro.psp.registry import build_adapters
from cobro.settings import Settings
from tests.e2e.helpers import charge
from tests.stack import CobroProcesses

OXXO_PSPS = sorted(name for name, c in CAPABILITIES.items() if PaymentMethod.OXXO in c.limits)


def _voucher(psp: str) -> PaymentInput:
    return PaymentInput(
        payment_id=f"pay_{uuid.uuid4().hex[:24]}",
        merchant_id="mer_void",
        amount=25_000,
        currency="MXN",
        method=PaymentMethod.OXXO,
        psps=[psp],
        customer=Customer(name="Ana López", email="ana@example.mx", phone="5512345678"),
        expires_in=86_400,
    )


def _sim_settings(settings: Settings, cobro: CobroProcesses) -> Settings:
    return settings.model_copy(update={"cobro_sim_port": int(cobro.sim_url.rsplit(":")[-1])})


def test_the_psps_that_take_oxxo() -> None:
    # A PSP added for OXXO is checked below by itself; this makes its author read why.
    assert OXXO_PSPS == ["conekta", "mercadopago", "stripe"]


@pytest.mark.parametrize("psp", OXXO_PSPS)
async def test_a_paid_voucher_cannot_be_voided_and_an_unpaid_one_can(
    psp: str, cobro: CobroProcesses, settings: Settings, sim: httpx.AsyncClient
) -> None:
    expires_at = oxxo_expires_at(datetime.now(UTC), 1)
    async with httpx.AsyncClient(timeout=10) as http:
        adapter = build_adapters(_sim_settings(settings, cobro), http)[psp]
        paid = await adapter.create_charge(_voucher(psp), expires_at)
        unpaid = await adapter.create_charge(_voucher(psp), expires_at)
        await sim.post("/_sim/pay", json={"psp_reference": paid.psp_reference})

        with pytest.raises(PspRejected):
            await adapter.cancel_charge(paid.psp_reference)
        assert (await adapter.get_charge(paid.psp_reference)).kind == "paid"

        await adapter.cancel_charge(unpaid.psp_reference)
        assert (await adapter.get_charge(unpaid.psp_reference)).kind == "canceled"
    assert (await charge(sim, unpaid.psp_reference))["status"] in ("canceled", "cancelled")


async def test_mercado_pago_itself_refuses_to_cancel_an_approved_ticket(
    cobro: CobroProcesses, settings: Settings, sim: httpx.AsyncClient
) -> None:
    """cobro's adapter asks first and refuses by itself; the PSP must refuse too (a ticket
    paid between that question and the cancel)."""
    sim_settings = _sim_settings(settings, cobro)
    async with httpx.AsyncClient(timeout=10) as http:
        adapter = build_adapters(sim_settings, http)["mercadopago"]
        paid = await adapter.create_charge(_voucher("mercadopago"), datetime.now(UTC))
        await sim.post("/_sim/pay", json={"psp_reference": paid.psp_reference})
        with pytest.raises(PspRejected, match="HTTP 400"):
            await mercadopago_client(sim_settings, http).cancel_payment(paid.psp_reference)
    assert (await charge(sim, paid.psp_reference))["status"] == "approved"
