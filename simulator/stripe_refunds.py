"""Refunds at the simulated Stripe: `POST /v1/refunds`, `GET /v1/refunds/{id}`, and a refund's
later life (docs.stripe.com/api/refunds/object, docs.stripe.com/refunds#failed-refunds).

A refund is `succeeded` at once unless the charge has a plan (POST /_sim/refunds/plan): then it
stays `pending` (or `requires_action`, Stripe asking the customer for bank details) until a test
moves it with POST /_sim/refunds/{id}, or the API refuses it (`balance_insufficient`). Each
change is notified as Stripe's current API versions do: `refund.updated` for every refund (with
`previous_attributes`), `refund.failed` when it failed, and `charge.refund.updated` for a refund
of a charge. A refund of a PaymentIntent leaves the balance when it is created (a `refund` balance
transaction) and comes back if it fails or is canceled (a `refund_failure` one).
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
    begin_create,
    chaos_after,
    chaos_before,
    intent_or_404,
    remember,
    state_of,
)
from simulator.stripe_errors import StripeError
from simulator.stripe_money import charge_id, record_balance

router = APIRouter(prefix="/stripe")

HELD = frozenset({"pending", "requires_action"})
FINAL = frozenset({"succeeded", "failed", "canceled"})
# Refund.failure_reason values (docs.stripe.com/api/refunds/object).
FAILURE_REASONS = frozenset(
    {
        "charge_for_pending_refund_disputed",
        "declined",
        "expired_or_canceled_card",
        "insufficient_funds",
        "lost_or_stolen_card",
        "merchant_request",
        "unknown",
    }
)
DISPLAY_DETAILS_FOR_S = 7 * 86_400  # how long the customer has to give their bank details


@router.post("/v1/refunds")
async def create_refund(request: Request) -> JSONResponse:
    state, params, key, replayed = await begin_create(request, "refund")
    if replayed is not None:
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
    state.ledger.stripe_refunds[refund["id"]] = refund
    remember(state, "refund", key, params, refund)
    state.ledger.save()
    chaos_after(state)
    return JSONResponse(refund)


@router.get("/v1/refunds/{refund_id}")
async def retrieve_refund(refund_id: str, request: Request) -> JSONResponse:
    state = state_of(request)
    authenticate(request, state)
    await chaos_before(state)
    refund = state.ledger.stripe_refunds.get(refund_id)
    if refund is None:
        raise StripeError(
            404, "invalid_request_error", f"No such refund: '{refund_id}'", "resource_missing"
        )
    return JSONResponse(refund)


def _planned_status(state: SimState, charge: Charge) -> str:
    """The status a new refund of `charge` starts in, by the charge's plan."""
    outcome = state.next_refund_outcome(charge.id)
    if outcome == "rejected":
        raise StripeError(
            400,
            "invalid_request_error",
            "The refund could not be completed because the associated account does not have "
            "a sufficient balance available.",
            "balance_insufficient",
        )
    return outcome if outcome in HELD else "succeeded"


def _refund_object(
    state: SimState, paid: Charge, amount: int, status: str, **fields: Any
) -> dict[str, Any]:
    """A new Refund of the charge `paid`; `fields` fill in what depends on its origin."""
    now = int(time.time())
    next_action = None
    if status == "requires_action":
        customer = state.ledger.customers.get(paid.object.get("customer") or "", {})
        next_action = {
            "type": "display_details",
            "display_details": {
                "email_sent": {"email_sent_at": now, "email_sent_to": customer.get("email")},
                "expires_at": now + DISPLAY_DETAILS_FOR_S,
            },
        }
    return {
        "id": f"re_{secrets.token_hex(12)}",
        "object": "refund",
        "amount": amount,
        "balance_transaction": None,
        "charge": None,
        "created": now,
        "currency": "mxn",
        "destination_details": None,
        "failure_balance_transaction": None,
        "failure_reason": None,
        "instructions_email": None,
        "metadata": {},
        "next_action": next_action,
        "payment_intent": None,
        "reason": None,
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": status,
        "transfer_reversal": None,
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
    status = _planned_status(state, charge)
    charge.amount_refunded += amount
    refund_id = f"re_{secrets.token_hex(12)}"
    return _refund_object(
        state,
        charge,
        amount,
        status,
        id=refund_id,
        balance_transaction=record_balance(
            state, "payment_refund", charge.id, -amount, source=refund_id
        ),
        charge=charge_id(charge.id),
        payment_intent=charge.id,
        metadata=params.get("metadata", {}),
    )


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
    # Ground truth per charge: attribute the refund to the customer's charge.
    charge = next(
        c for c in state.ledger.charges.values() if c.object.get("customer") == customer["id"]
    )
    status = _planned_status(state, charge)
    customer["cash_balance"] -= amount
    charge.amount_refunded += amount
    return _refund_object(
        state,
        charge,
        amount,
        status,
        customer=customer["id"],
        origin="customer_balance",
        metadata=params.get("metadata", {}),
    )


def change_status(
    state: SimState, refund: dict[str, Any], status: str, failure_reason: str | None
) -> dict[str, Any]:
    """Move a held refund on (the bank paid it, refused it, or the customer never answered)
    and notify cobro. Raises ValueError for a move Stripe would not make."""
    previous = refund["status"]
    if previous not in HELD:
        raise ValueError(f"refund {refund['id']} is already {previous}")
    if status not in HELD | FINAL:
        raise ValueError(f"{status!r} is not a Stripe refund status")
    if failure_reason is not None and failure_reason not in FAILURE_REASONS:
        raise ValueError(f"{failure_reason!r} is not a Stripe refund failure_reason")
    charge = _charge_of(state, refund)
    refund["status"] = status
    refund["next_action"] = refund["next_action"] if status == "requires_action" else None
    if status in ("failed", "canceled"):
        # The money never left: back to the balance (a refund_failure balance transaction),
        # and to the customer's cash balance when it came from there.
        refund["failure_reason"] = failure_reason or (
            "merchant_request" if status == "canceled" else "declined"
        )
        if refund["balance_transaction"] is not None:  # cash balance refunds have none here
            refund["failure_balance_transaction"] = record_balance(
                state, "refund_failure", charge.id, refund["amount"], source=refund["id"]
            )
        charge.amount_refunded -= refund["amount"]
        if refund.get("origin") == "customer_balance":
            customer = state.ledger.customers[refund["customer"]]
            customer["cash_balance"] = customer.get("cash_balance", 0) + refund["amount"]
    state.ledger.save()
    state.send_stripe_event("refund.updated", refund, previous={"status": previous})
    if status == "failed":
        state.send_stripe_event("refund.failed", refund)
    if refund.get("charge"):
        state.send_stripe_event("charge.refund.updated", refund, previous={"status": previous})
    return refund


def _charge_of(state: SimState, refund: dict[str, Any]) -> Charge:
    if refund.get("payment_intent"):
        return state.ledger.charges[refund["payment_intent"]]
    return next(
        c for c in state.ledger.charges.values() if c.object.get("customer") == refund["customer"]
    )


def charge_reference(refund: dict[str, Any], state: SimState) -> str:
    """The charge a refund belongs to (the PaymentIntent cobro stores as its reference)."""
    return _charge_of(state, refund).id
