"""Money moving at the simulated Stripe: customer payments and the balance report.

Follows docs.stripe.com/payments/customer-balance for bank transfers: a transfer that covers
part of the amount partly funds the PaymentIntent (`payment_intent.partially_funded`); money
sent after the intent was canceled lands in the customer's cash balance
(`customer_cash_balance_transaction.created`) and is refunded from there
(`POST /v1/refunds` with `customer` and `origin=customer_balance`; simulator/stripe_refunds.py).
"""

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.ledger import Charge
from simulator.state import SimState
from simulator.stripe_api import (
    authenticate,
    chaos_before,
    customer_of,
    state_of,
)

router = APIRouter(prefix="/stripe")


def apply_payment(state: SimState, charge: Charge, amount: int) -> None:
    """The customer pays `amount`; Stripe updates the intent and notifies as documented."""
    charge.amount_paid += amount
    intent = charge.object
    if charge.method == "spei" and charge.status in ("canceled", "succeeded"):
        _fund_cash_balance(state, charge, amount)  # nothing left to fund: a late transfer
    elif charge.method == "oxxo" or charge.amount_paid >= charge.amount:
        # A voucher paid at the till is confirmed even when Stripe had given up on it (the
        # simulator's stand-in for a late OXXO confirmation).
        intent["amount_received"] = charge.amount
        charge.status = intent["status"] = "succeeded"
        intent["next_action"] = None
        intent["latest_charge"] = charge_id(charge.id)
        record_balance(state, "payment", charge.id, charge.amount)
        state.send_stripe_event("payment_intent.succeeded", intent)
        if charge.method == "spei" and charge.amount_paid > charge.amount:
            # The intent receives its amount; the excess stays in the customer's cash balance.
            _fund_cash_balance(state, charge, charge.amount_paid - charge.amount)
    else:
        remaining = charge.amount - charge.amount_paid
        intent["next_action"]["display_bank_transfer_instructions"]["amount_remaining"] = remaining
        state.send_stripe_event("payment_intent.partially_funded", intent)
    state.ledger.save()


def _fund_cash_balance(state: SimState, charge: Charge, amount: int) -> None:
    customer = customer_of(state, charge)
    customer["cash_balance"] = customer.get("cash_balance", 0) + amount
    state.send_stripe_event(
        "customer_cash_balance_transaction.created",
        {
            "id": f"ccsbtxn_{secrets.token_hex(12)}",
            "object": "customer_cash_balance_transaction",
            "created": int(time.time()),
            "currency": "mxn",
            "customer": customer["id"],
            "ending_balance": customer["cash_balance"],
            "net_amount": amount,
            "type": "funded",
            "livemode": False,
        },
    )


# Stripe's balance transaction types for a local payment method such as OXXO or a bank
# transfer (docs.stripe.com/reports/balance-transaction-types): `payment` and `payment_refund`;
# money of a failed refund comes back as `refund_failure`. Each line's `reporting_category`
# (charge, refund, refund_failure) is what Stripe recommends reading for accounting.
CATEGORIES = {"payment": "charge", "payment_refund": "refund", "refund_failure": "refund_failure"}
TYPES = {category: type_ for type_, category in CATEGORIES.items()}


def charge_id(intent_id: str) -> str:
    """The Charge a paid PaymentIntent made (`latest_charge`); the simulator names it after the
    intent (`py_`: Stripe's prefix for local payment method charges)."""
    return f"py_{intent_id.removeprefix('pi_')}"


def record_balance(
    state: SimState, type_: str, intent_id: str, amount: int, source: str | None = None
) -> str:
    """A balance transaction (docs.stripe.com/api/balance_transactions) about the intent
    `intent_id`; its id. Its `source` is the object that moved the money: the intent's Charge
    for a payment, the Refund (`source`) for a refund or a refund's failure."""
    txn_id = f"txn_{secrets.token_hex(12)}"
    state.ledger.stripe_balance.append(
        {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "currency": "mxn",
            "created": int(time.time()),
            "type": type_,
            "reporting_category": CATEGORIES[type_],
            "source": source or charge_id(intent_id),
            "status": "available",
            INTENT: intent_id,  # the simulator's own link, never served
        }
    )
    return txn_id


INTENT = "_payment_intent"


def _expanded_source(state: SimState, line: dict[str, Any]) -> dict[str, Any]:
    """`expand[]=data.source`: the Charge or Refund itself, which names the PaymentIntent."""
    # A ledger saved before lines kept their intent named it as the source.
    intent_id, source = line.get(INTENT, line["source"]), line["source"]
    if source.startswith("re_"):
        refund = state.ledger.stripe_refunds.get(source)
        if refund is not None:
            return refund
        return {  # a line a reconciliation test added: a refund Stripe has and cobro does not
            "id": source,
            "object": "refund",
            "amount": abs(line["amount"]),
            "currency": "mxn",
            "payment_intent": intent_id,
            "status": "succeeded",
        }
    paid = state.ledger.charges.get(intent_id)
    return {
        "id": source,
        "object": "charge",
        "amount": abs(line["amount"]),
        "currency": "mxn",
        "created": line["created"],
        "customer": paid.object.get("customer") if paid else None,
        "paid": True,
        "payment_intent": intent_id,
        "status": "succeeded",
    }


def served(state: SimState, line: dict[str, Any], expand: list[str]) -> dict[str, Any]:
    shown = {k: v for k, v in line.items() if k != INTENT}
    if "data.source" in expand:
        shown["source"] = _expanded_source(state, line)
    return shown


@router.get("/v1/balance_transactions")
async def list_balance_transactions(request: Request) -> JSONResponse:
    """Filters as Stripe's `created[gte]` / `created[lt]`, expands `data.source` when asked;
    one page holds everything here."""
    state = state_of(request)
    authenticate(request, state)
    await chaos_before(state)
    gte = int(request.query_params.get("created[gte]", 0))
    lt = int(request.query_params.get("created[lt]", 2**62))
    # `expand[]=` as cobro sends it, `expand[0]=` as stripe-python does: Stripe takes both.
    expand = [v for k, v in request.query_params.multi_items() if k.startswith("expand[")]
    lines = [t for t in state.ledger.stripe_balance if gte <= t["created"] < lt]
    data = [served(state, t, expand) for t in lines]
    return JSONResponse(
        {"object": "list", "data": data, "has_more": False, "url": "/v1/balance_transactions"}
    )
