"""Money moving at the simulated Stripe: customer payments and refunds.

Follows docs.stripe.com/payments/customer-balance for bank transfers: a transfer that covers
part of the amount partly funds the PaymentIntent (`payment_intent.partially_funded`); money
sent after the intent was canceled lands in the customer's cash balance
(`customer_cash_balance_transaction.created`) and is refunded from there
(`POST /v1/refunds` with `customer` and `origin=customer_balance`).
"""

import secrets
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.ledger import Charge
from simulator.state import SimState
from simulator.stripe_api import (
    StripeError,
    authenticate,
    chaos_after,
    chaos_before,
    customer_of,
    intent_or_404,
    read_form,
    remember,
    replay,
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


@router.post("/v1/refunds")
async def create_refund(request: Request) -> JSONResponse:
    state = state_of(request)
    authenticate(request, state)
    params = await read_form(request)
    key = request.headers.get("idempotency-key")
    await chaos_before(state)
    if (replayed := replay(state, "refund", key, params)) is not None:
        return JSONResponse(replayed, headers={"Idempotent-Replayed": "true"})
    try:
        amount = int(params["amount"])
    except (KeyError, ValueError):
        raise StripeError(
            400, "invalid_request_error", "Missing required param: amount.", "parameter_missing"
        ) from None
    if params.get("origin") == "customer_balance":
        refund = _refund_cash_balance(state, params, amount)
    else:
        refund = _refund_intent(state, params, amount)
    remember(state, "refund", key, params, refund)
    state.ledger.save()
    chaos_after(state)
    return JSONResponse(refund)


def record_balance(state: SimState, type_: str, intent_id: str, amount: int) -> None:
    """A balance transaction (docs.stripe.com/api/balance_transactions). Simplification: its
    `source` is the PaymentIntent id rather than the underlying charge's `ch_...` id."""
    state.ledger.stripe_balance.append(
        {
            "id": f"txn_{secrets.token_hex(12)}",
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


def _refund_object(amount: int, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"re_{secrets.token_hex(12)}",
        "object": "refund",
        "amount": amount,
        "currency": "mxn",
        "status": "succeeded",
        "created": int(time.time()),
        **fields,
    }


def _refund_intent(state: SimState, params: dict[str, Any], amount: int) -> dict[str, Any]:
    charge = intent_or_404(state, params.get("payment_intent", ""))
    if charge.method == "oxxo":
        raise StripeError(
            400,
            "invalid_request_error",
            "OXXO payments cannot be refunded.",
            "charge_not_refundable",
        )
    if charge.status != "succeeded":
        raise StripeError(
            400,
            "invalid_request_error",
            "This PaymentIntent has not succeeded.",
            "charge_not_refundable",
        )
    if amount > charge.amount - charge.amount_refunded:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Refund amount ({amount}) is greater than unrefunded amount on "
            f"charge ({charge.amount - charge.amount_refunded}).",
            "amount_too_large",
        )
    charge.amount_refunded += amount
    record_balance(state, "refund", charge.id, -amount)
    return _refund_object(amount, payment_intent=charge.id, metadata=params.get("metadata", {}))


def _refund_cash_balance(state: SimState, params: dict[str, Any], amount: int) -> dict[str, Any]:
    customer = state.ledger.customers.get(params.get("customer", ""))
    if customer is None:
        raise StripeError(404, "invalid_request_error", "No such customer.", "resource_missing")
    if amount > customer.get("cash_balance", 0):
        raise StripeError(
            400,
            "invalid_request_error",
            "Refund amount is greater than the customer's cash balance.",
            "amount_too_large",
        )
    customer["cash_balance"] -= amount
    # Ground truth per charge: attribute the refund to the customer's charge.
    for charge in state.ledger.charges.values():
        if charge.object.get("customer") == customer["id"]:
            charge.amount_refunded += amount
            break
    return _refund_object(
        amount,
        customer=customer["id"],
        origin="customer_balance",
        metadata=params.get("metadata", {}),
    )
