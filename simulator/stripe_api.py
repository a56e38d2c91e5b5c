"""The subset of Stripe's API cobro's Stripe adapter uses, served under /stripe.

Wire format follows docs.stripe.com/api: form-encoded requests, `Authorization: Bearer sk_...`,
`Idempotency-Key` replays the first response and rejects reuse with other parameters
(`idempotency_error`), errors as `{"error": {"type", "code", "message"}}`.
"""

import hashlib
import html
import json
import re
import secrets
import string
import time
from typing import Any
from urllib.parse import parse_qsl

from clabe import compute_control_digit
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from cobro.domain import money
from cobro.domain.expiry import oxxo_expires_at
from cobro.psp.form import unflatten
from simulator.ledger import Charge
from simulator.state import SimState, now_utc
from simulator.stripe_errors import StripeError

router = APIRouter(prefix="/stripe")

OXXO_MIN, OXXO_MAX = 1_000, 1_000_000  # 10-10,000 MXN per voucher
OXXO_DEFAULT_DAYS = 5


async def chaos_before(state: SimState) -> None:
    if not state.rate_limits.allow("stripe"):
        # Stripe's answer to too many requests: 429 with code `rate_limit`.
        raise StripeError(
            429,
            "invalid_request_error",
            "Too many requests hit the API too quickly. We recommend an exponential backoff "
            "of your requests.",
            code="rate_limit",
        )
    if await state.chaos.before_api_call("stripe"):
        raise StripeError(503, "api_error", "Simulated outage: the request was not processed.")


def chaos_after(state: SimState) -> None:
    if state.chaos.lose_response("stripe"):
        raise StripeError(503, "api_error", "Simulated lost response: the request was done.")


def state_of(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    return state


def authenticate(request: Request, state: SimState) -> None:
    auth = request.headers.get("authorization", "")
    if auth != f"Bearer {state.settings.stripe_api_key.get_secret_value()}":
        raise StripeError(401, "invalid_request_error", "Invalid API Key provided.")


async def read_form(request: Request) -> dict[str, Any]:
    return unflatten(parse_qsl((await request.body()).decode(), keep_blank_values=True))


def _hash(params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()


def replay(state: SimState, kind: str, key: str | None, params: dict[str, Any]) -> Any:
    """The stored first response for this key, or None when the key is new."""
    if key is None:
        return None
    entry = state.ledger.idempotency.get(f"stripe:{kind}:{key}")
    if entry is None:
        return None
    stored: dict[str, Any] = json.loads(entry)
    if stored["request_hash"] != _hash(params):
        raise StripeError(
            400,
            "idempotency_error",
            f"Keys for idempotent requests can only be used with the same parameters they were "
            f"first used with. Try using a key other than '{key}' if you meant to execute a "
            f"different request.",
        )
    return stored["response"]


def remember(
    state: SimState, kind: str, key: str | None, params: dict[str, Any], response: dict[str, Any]
) -> None:
    if key is not None:
        state.ledger.idempotency[f"stripe:{kind}:{key}"] = json.dumps(
            {"request_hash": _hash(params), "response": response}
        )


async def begin_create(
    request: Request, kind: str
) -> tuple[SimState, dict[str, Any], str | None, Any]:
    """What every Stripe create does first: authenticate, read the form, let chaos act, and
    find the stored first answer when the Idempotency-Key was used before (None if new)."""
    state = state_of(request)
    authenticate(request, state)
    params = await read_form(request)
    key = request.headers.get("idempotency-key")
    await chaos_before(state)
    return state, params, key, replay(state, kind, key, params)


def _new_clabe() -> str:
    # 002 = Banamex (Stripe's SPEI processor is Citibanamex), 180 = Mexico City plaza.
    first17 = "002180" + "".join(secrets.choice(string.digits) for _ in range(11))
    return first17 + str(compute_control_digit(first17))


@router.post("/v1/customers")
async def create_customer(request: Request) -> JSONResponse:
    state, params, key, replayed = await begin_create(request, "customer")
    if replayed is not None:
        return JSONResponse(replayed, headers={"Idempotent-Replayed": "true"})
    customer = {
        "id": f"cus_{secrets.token_hex(7)}",
        "object": "customer",
        "name": params.get("name"),
        "email": params.get("email"),
        "metadata": params.get("metadata", {}),
        "created": int(time.time()),
        "livemode": False,
    }
    state.ledger.customers[customer["id"]] = customer
    remember(state, "customer", key, params, customer)
    state.ledger.save()
    return JSONResponse(customer)


def _oxxo_action(state: SimState, intent_id: str, params: dict[str, Any]) -> dict[str, Any]:
    options = params.get("payment_method_options", {}).get("oxxo", {})
    days = int(options.get("expires_after_days", OXXO_DEFAULT_DAYS))
    if not 1 <= days <= 7:
        raise StripeError(
            400,
            "invalid_request_error",
            "expires_after_days must be between 1 and 7.",
            "parameter_invalid_integer",
        )
    expires = int(oxxo_expires_at(now_utc(), days).timestamp())
    return {
        "type": "oxxo_display_details",
        "oxxo_display_details": {
            "expires_after": state.oxxo_expires_at or expires,
            "hosted_voucher_url": f"{state.public_url}/stripe/vouchers/{intent_id}",
            "number": "".join(secrets.choice(string.digits) for _ in range(18)),
        },
    }


def _spei_action(state: SimState, params: dict[str, Any], amount: int) -> dict[str, Any]:
    customer = state.ledger.customers.get(params.get("customer", ""))
    if customer is None:
        raise StripeError(
            400,
            "invalid_request_error",
            "customer_balance PaymentIntents require a valid `customer`.",
            "resource_missing",
        )
    # Stripe gives each customer one virtual CLABE and reuses it for later payments.
    clabe = customer.setdefault("clabe", _new_clabe())
    return {
        "type": "display_bank_transfer_instructions",
        "display_bank_transfer_instructions": {
            "amount_remaining": amount,
            "currency": "mxn",
            "financial_addresses": [
                {
                    "type": "spei",
                    "supported_networks": ["spei"],
                    "spei": {
                        "bank_code": "002",
                        "bank_name": "BANAMEX",
                        "clabe": clabe,
                        "account_holder_name": "Stripe Payments Mexico",
                        "account_holder_address": {"city": "Ciudad de México", "country": "MX"},
                        "bank_address": {"city": "Ciudad de México", "country": "MX"},
                    },
                }
            ],
            "hosted_instructions_url": f"{state.public_url}/stripe/instructions/{clabe}",
            "reference": "".join(
                secrets.choice(string.ascii_uppercase + string.digits) for _ in range(7)
            ),
            "type": "mx_bank_transfer",
        },
    }


@router.post("/v1/payment_intents")
async def create_payment_intent(request: Request) -> JSONResponse:
    state, params, key, replayed = await begin_create(request, "payment_intent")
    if replayed is not None:
        charge = state.ledger.charges[replayed["id"]]
        charge.create_calls += 1
        state.ledger.save()
        chaos_after(state)
        return JSONResponse(replayed, headers={"Idempotent-Replayed": "true"})

    try:
        amount = int(params["amount"])
    except (KeyError, ValueError):
        raise StripeError(
            400, "invalid_request_error", "Missing required param: amount.", "parameter_missing"
        ) from None
    if params.get("currency") != "mxn":
        raise StripeError(
            400, "invalid_request_error", "Only mxn is supported here.", "parameter_invalid"
        )
    types = params.get("payment_method_types", [])
    intent_id = f"pi_{secrets.token_hex(12)}"
    if types == ["oxxo"]:
        if not OXXO_MIN <= amount <= OXXO_MAX:
            raise StripeError(
                400,
                "invalid_request_error",
                "OXXO amounts must be between 10.00 and 10,000.00 MXN.",
                "amount_too_large" if amount > OXXO_MAX else "amount_too_small",
            )
        method, action = "oxxo", _oxxo_action(state, intent_id, params)
    elif types == ["customer_balance"]:
        method, action = "spei", _spei_action(state, params, amount)
    else:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Unsupported payment_method_types {types!r}.",
            "parameter_invalid",
        )

    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_received": 0,
        "currency": "mxn",
        "status": "requires_action",
        "payment_method_types": types,
        "customer": params.get("customer"),
        "description": params.get("description"),
        "metadata": params.get("metadata", {}),
        "next_action": action,
        "canceled_at": None,
        "cancellation_reason": None,
        "latest_charge": None,
        "client_secret": f"{intent_id}_secret_{secrets.token_hex(8)}",
        "created": int(time.time()),
        "livemode": False,
    }
    state.ledger.charges[intent_id] = Charge(
        id=intent_id,
        psp="stripe",
        idempotency_key=key,
        request_hash=_hash(params),
        amount=amount,
        method=method,
        status="requires_action",
        object=intent,
    )
    remember(state, "payment_intent", key, params, intent)
    state.ledger.save()
    chaos_after(state)
    return JSONResponse(intent)


def customer_of(state: SimState, charge: Charge) -> dict[str, Any]:
    customer: dict[str, Any] = state.ledger.customers[charge.object["customer"]]
    return customer


def intent_or_404(state: SimState, intent_id: str) -> Charge:
    charge = state.ledger.charges.get(intent_id)
    if charge is None or charge.psp != "stripe":
        raise StripeError(
            404,
            "invalid_request_error",
            f"No such payment_intent: '{intent_id}'",
            "resource_missing",
        )
    return charge


@router.get("/v1/payment_intents/search")
async def search_payment_intents(
    request: Request, query: str = "", limit: int = 10, page: str | None = None
) -> JSONResponse:
    """Only the query cobro sends: metadata['cobro_payment_id']:'pay_...', in pages of `limit`
    (1-100, Stripe's default 10) with an opaque `page` cursor, newest first as Stripe sorts."""
    state = state_of(request)
    authenticate(request, state)
    await chaos_before(state)
    match = re.fullmatch(r"metadata\['(\w+)'\]:'([^']*)'", query)
    if match is None:
        raise StripeError(
            400,
            "invalid_request_error",
            f"Unsupported search query {query!r}.",
            "parameter_invalid",
        )
    if not 1 <= limit <= 100:
        raise StripeError(
            400, "invalid_request_error", "limit must be between 1 and 100.", "parameter_invalid"
        )
    key, value = match.groups()
    found = [
        c.object
        for c in reversed(state.ledger.charges.values())
        if c.psp == "stripe" and c.object.get("metadata", {}).get(key) == value
    ]
    start = int(page.removeprefix("page_")) if page and page.removeprefix("page_").isdigit() else 0
    more = start + limit < len(found)
    return JSONResponse(
        {
            "object": "search_result",
            "data": found[start : start + limit],
            "has_more": more,
            "next_page": f"page_{start + limit}" if more else None,
            "url": "/v1/payment_intents/search",
        }
    )


@router.get("/v1/payment_intents/{intent_id}")
async def retrieve_payment_intent(intent_id: str, request: Request) -> JSONResponse:
    state = state_of(request)
    authenticate(request, state)
    await chaos_before(state)
    return JSONResponse(intent_or_404(state, intent_id).object)


@router.post("/v1/payment_intents/{intent_id}/cancel")
async def cancel_payment_intent(intent_id: str, request: Request) -> JSONResponse:
    state = state_of(request)
    authenticate(request, state)
    await chaos_before(state)
    charge = intent_or_404(state, intent_id)
    # Stripe's documented reasons; none given reads as null on the intent.
    reason = (await read_form(request)).get("cancellation_reason")
    if reason not in (None, "duplicate", "fraudulent", "requested_by_customer", "abandoned"):
        raise StripeError(
            400,
            "invalid_request_error",
            f"Invalid cancellation_reason: {reason}",
            "parameter_invalid_string",
        )
    if charge.status in ("succeeded", "canceled"):  # a second cancel too: Stripe has no no-op
        raise StripeError(
            400,
            "invalid_request_error",
            f"You cannot cancel this PaymentIntent because it has a status of {charge.status}. "
            "Only a PaymentIntent with one of the following statuses may be canceled: "
            "requires_payment_method, requires_capture, requires_confirmation, requires_action, "
            "processing.",
            "payment_intent_unexpected_state",
            payment_intent=charge.object,
        )
    if charge.method == "spei" and charge.amount_paid:
        # Funds of a partly paid transfer return to the customer's cash balance.
        customer_of(state, charge).setdefault("cash_balance", 0)
        customer_of(state, charge)["cash_balance"] += charge.amount_paid - charge.amount_refunded
    charge.status = charge.object["status"] = "canceled"
    charge.object["next_action"] = None
    charge.object["cancellation_reason"] = reason
    charge.object["canceled_at"] = int(time.time())
    state.ledger.save()
    state.send_stripe_event("payment_intent.canceled", charge.object)
    chaos_after(state)
    return JSONResponse(charge.object)


@router.get("/vouchers/{intent_id}", response_class=HTMLResponse)
async def voucher(intent_id: str, request: Request) -> str:
    charge = intent_or_404(state_of(request), intent_id)
    details = (charge.object.get("next_action") or {}).get("oxxo_display_details") or {}
    return (
        f"<h1>OXXO Pay (simulated)</h1><p>Amount: {money.format_amount(charge.amount)}</p>"
        f"<p>Reference: <code>{html.escape(str(details.get('number', '-')))}</code></p>"
        f"<p>Status: {html.escape(charge.status)}</p>"
    )
