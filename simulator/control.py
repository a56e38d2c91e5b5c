"""The simulator's control API (SPEC §7): the customer pays, inspect the ledger, reset."""

import secrets
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from simulator import (
    conekta_api,
    conekta_report,
    mercadopago_api,
    mercadopago_report,
    moonpay_api,
    moonpay_report,
    stp_api,
    stp_report,
)
from simulator.chaos import Chaos
from simulator.rate_limits import RateLimiter
from simulator.report_changes import Lines, NoSuchLine, ReportChange, record
from simulator.stripe_api import state_of
from simulator.stripe_money import INTENT, TYPES, apply_payment, record_balance

router = APIRouter(prefix="/_sim")


class PayRequest(BaseModel):
    psp_reference: str
    amount: int | None = Field(default=None, gt=0)


@router.post("/pay")
async def pay(body: PayRequest, request: Request) -> dict[str, Any]:
    state = state_of(request)
    charge = state.ledger.charges.get(body.psp_reference)
    if charge is None and stp_api.is_stp_clabe(state, body.psp_reference):
        # STP takes transfers to any CLABE under the company's prefix, issued or not.
        if body.amount is None:
            raise HTTPException(400, "no payment registered this CLABE: pass an amount")
        abono = stp_api.apply_payment(state, body.psp_reference, body.amount)
        return {
            "id": body.psp_reference,
            "psp": "stp",
            "outcome": "deposited to a CLABE no payment registered",
            "abono": {k: abono[k] for k in ("id", "claveRastreo", "cuentaOrdenante")},
        }
    if charge is None:
        raise HTTPException(404, f"no charge {body.psp_reference!r} at any simulated PSP")
    if charge.psp == "moonpay":
        # A MoonPay customer pays in the widget, at the URL cobro showed.
        raise HTTPException(400, "MoonPay purchases are made at the widget: POST /_sim/moonpay/buy")
    amount = body.amount if body.amount is not None else charge.amount - charge.amount_paid
    if amount <= 0:
        raise HTTPException(409, f"charge {charge.id} is already fully paid; pass an amount")
    if charge.psp == "stp":
        abono = stp_api.apply_payment(state, charge.id, amount)
        return {
            **charge.public(),
            "outcome": "deposited",
            "abono": {k: abono[k] for k in ("id", "claveRastreo", "cuentaOrdenante")},
        }
    if charge.psp == "conekta":
        outcome = conekta_api.apply_payment(state, charge, amount)
    elif charge.psp == "mercadopago":
        outcome = mercadopago_api.apply_payment(state, charge, amount)
    else:
        apply_payment(state, charge, amount)
        outcome = "paid"
    return {**charge.public(), "outcome": outcome}


@router.get("/charges")
async def charges(request: Request) -> dict[str, Any]:
    return {"data": [c.public() for c in state_of(request).ledger.charges.values()]}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    state = state_of(request)
    state.sender.cancel_all()
    moonpay_api.reset()
    mercadopago_report.FILES.clear()
    state.ledger.reset()
    state.chaos = Chaos()
    state.rate_limits = RateLimiter()
    state.oxxo_expires_at = None
    state.refund_plans.clear()
    return {"reset": True}


@router.put("/chaos")
async def set_chaos(chaos: Chaos, request: Request) -> Chaos:
    """Replace the fault injection settings (all zero/false by default)."""
    state_of(request).chaos = chaos
    return chaos


class OxxoExpiry(BaseModel):
    expires_at: int | None = Field(default=None, gt=0, description="unix seconds; null: days")


@router.put("/oxxo_expiry")
async def set_oxxo_expiry(body: OxxoExpiry, request: Request) -> OxxoExpiry:
    """Benches only (real PSPs date vouchers in days): OXXO vouchers created from now on expire
    at `expires_at`; null goes back to 23:59 Mexico City on their last day."""
    state_of(request).oxxo_expires_at = body.expires_at
    return body


@router.get("/chaos")
async def get_chaos(request: Request) -> Chaos:
    return state_of(request).chaos


class BalanceChange(BaseModel):
    """Make Stripe's settlement report disagree with what happened (reconciliation tests):
    the first line of `type` (its reporting category) about the PaymentIntent `source`."""

    op: Literal["add", "remove", "set_amount"]
    source: str
    amount: int = 0
    type: Literal["charge", "refund"] = "charge"


@router.post("/stripe/balance_transactions")
async def change_balance(change: BalanceChange, request: Request) -> dict[str, Any]:
    ledger = state_of(request).ledger
    lines = [
        t
        for t in ledger.stripe_balance
        if t.get(INTENT) == change.source and t["reporting_category"] == change.type
    ]
    if change.op == "add":
        refund = f"re_{secrets.token_hex(12)}" if change.type == "refund" else None
        record_balance(
            state_of(request), TYPES[change.type], change.source, change.amount, source=refund
        )
    elif not lines:
        raise HTTPException(404, f"no {change.type} line for {change.source!r}")
    elif change.op == "remove":
        ledger.stripe_balance.remove(lines[0])
    else:
        lines[0]["amount"] = change.amount
    ledger.save()
    return {"changed": change.op, "source": change.source}


# The other PSPs' reports, by line type (see each module for the real report it mirrors).
REPORTS: dict[str, dict[str, Lines]] = {
    "conekta": conekta_report.LINES,
    "stp": stp_report.LINES,
    "moonpay": moonpay_report.LINES,
    "mercadopago": mercadopago_report.LINES,
}


@router.post("/{psp}/report")
async def change_report(psp: str, change: ReportChange, request: Request) -> dict[str, Any]:
    """Make Conekta's, STP's, MoonPay's or Mercado Pago's settlement report disagree with what
    happened: `remove` or `set_amount` the first line about `reference`, or `add` one
    (reconciliation tests). Changes last until `POST /_sim/reset`."""
    if psp not in REPORTS:
        raise HTTPException(
            404, f"no report to change for {psp!r} (Stripe's: balance_transactions)"
        )
    lines = REPORTS[psp].get(change.type)
    if lines is None:
        raise HTTPException(422, f"the simulated {psp} has no {change.type} lines")
    try:
        record(state_of(request), psp, change, lines)
    except NoSuchLine as exc:
        raise HTTPException(404, str(exc)) from None
    return {"changed": change.op, "psp": psp, "reference": change.reference}
