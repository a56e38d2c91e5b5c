"""Money moving at the simulated Stripe: customer payments and the balance report.

Follows docs.stripe.com/payments/customer-balance for bank transfers: a transfer that covers
part of the amount partly funds the PaymentIntent (`payment_intent.partially_funded`); money
sent after the intent was canceled lands in the customer's cash balance
(`customer_cash_balance_transaction.created`) and is refunded from there
(`POST /v1/refunds` with `customer` and `origin=customer_balance`; simulator/stripe_refunds.py).
"""

import secrets
import time

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
        record_balance(state, "charge", charge.id, charge.amount)
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


def record_balance(state: SimState, type_: str, intent_id: str, amount: int) -> str:
    """A balance transaction (docs.stripe.com/api/balance_transactions); its id. Simplification:
    its `source` is the PaymentIntent id rather than the underlying charge's `ch_...` id."""
    txn_id = f"txn_{secrets.token_hex(12)}"
    state.ledger.stripe_balance.append(
        {
            "id": txn_id,
            "object": "balance_transaction",
            "amount": amount,
            "currency": "mxn",
            "created": int(time.time()),
            "type": type_,
            "reporting_category": type_,
            "source": intent_id,
            "status": "available",
        }
    )
    return txn_id


@router.get("/v1/balance_transactions")
async def list_balance_transactions(request: Request) -> JSONResponse:
    """Filters as Stripe's `created[gte]` / `created[lt]`; one page holds everything here."""
    state = state_of(request)
    authenticate(request, state)
    await chaos_before(state)
    gte = int(request.query_params.get("created[gte]", 0))
    lt = int(request.query_params.get("created[lt]", 2**62))
    data = [t for t in state.ledger.stripe_balance if gte <= t["created"] < lt]
    return JSONResponse(
        {"object": "list", "data": data, "has_more": False, "url": "/v1/balance_transactions"}
    )
