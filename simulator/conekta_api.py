"""The subset of Conekta's Orders API cobro's Conekta adapter uses, served under /conekta.

JSON bodies, `Authorization: Bearer key_...`, `Idempotency-Key` replays the first answer;
errors as `{"object": "error", "type", "details": [{"message", "code"}]}`. Webhooks carry a
`DIGEST` header: the RSA-SHA256 signature of the body with the key pair whose public half
`POST /webhook_keys` returns (developers.conekta.com).
"""

import json
import secrets
import string
import time
from typing import Any

from clabe import compute_control_digit
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from simulator import conekta_report
from simulator.ledger import Charge
from simulator.report_changes import served
from simulator.state import SimState

router = APIRouter(prefix="/conekta")


class ConektaError(Exception):
    def __init__(self, status: int, type_: str, message: str) -> None:
        self.status, self.type, self.message = status, type_, message


def error_response(exc: ConektaError) -> JSONResponse:
    return JSONResponse(
        {
            "object": "error",
            "type": exc.type,
            "log_id": secrets.token_hex(12),
            "details": [{"message": exc.message, "code": f"conekta.{exc.type}"}],
        },
        status_code=exc.status,
    )


async def _start(request: Request, lose_response_allowed: bool = True) -> SimState:
    state: SimState = request.app.state.sim
    api_key = state.settings.conekta_api_key.get_secret_value()
    if request.headers.get("authorization") != f"Bearer {api_key}":
        raise ConektaError(401, "authentication_error", "Acceso no autorizado.")
    if not state.rate_limits.allow("conekta"):
        raise ConektaError(429, "too_many_requests_error", "Demasiadas solicitudes.")
    if await state.chaos.before_api_call("conekta"):
        raise ConektaError(503, "api_error", "Simulated outage: the request was not processed.")
    return state


def _lost(state: SimState) -> None:
    if state.chaos.lose_response("conekta"):
        raise ConektaError(503, "api_error", "Simulated lost response: the request was done.")


def _order(state: SimState, order_id: str) -> Charge:
    charge = state.ledger.charges.get(order_id)
    if charge is None or charge.psp != "conekta":
        raise ConektaError(
            404, "resource_not_found_error", f"El recurso no ha sido encontrado: {order_id}"
        )
    return charge


def _payment_method(kind: str, amount: int, expires_at: int) -> dict[str, Any]:
    if kind == "cash":
        return {
            "object": "cash_payment",
            "type": "oxxo",
            "service_name": "OxxoPay",
            "store_name": "OXXO",
            "expires_at": expires_at,
            "reference": "93" + "".join(secrets.choice(string.digits) for _ in range(12)),
            "barcode_url": "https://s3.amazonaws.com/cash_payment_barcodes/sandbox.png",
        }
    # A single-use CLABE at STP (bank code 646) that only takes the exact amount.
    first17 = "646180" + "".join(secrets.choice(string.digits) for _ in range(11))
    clabe = first17 + str(compute_control_digit(first17))
    return {
        "object": "bank_transfer_payment",
        "type": "spei",
        "clabe": clabe,
        "bank": "STP",
        "receiving_account_number": clabe,
        "receiving_account_bank": "STP",
        "expires_at": expires_at,
        "payment_attempts": [],
    }


@router.post("/orders")
async def create_order(request: Request) -> JSONResponse:
    state = await _start(request)
    body = await request.json()
    key = request.headers.get("idempotency-key")
    request_hash = json.dumps(body, sort_keys=True)
    if key and (order_id := state.ledger.idempotency.get(f"conekta:order:{key}")):
        charge = _order(state, order_id)
        if charge.request_hash != request_hash:
            raise ConektaError(
                409, "conflict_error", "Idempotency-Key reused with a different request."
            )
        charge.create_calls += 1
        state.ledger.save()
        _lost(state)
        return JSONResponse(charge.object)
    try:
        amount = sum(int(i["unit_price"]) * int(i["quantity"]) for i in body["line_items"])
        method = body["charges"][0]["payment_method"]
        kind, expires_at = method["type"], int(method["expires_at"])
    except (KeyError, IndexError, TypeError, ValueError):
        raise ConektaError(
            422,
            "parameter_validation_error",
            "line_items and charges[0].payment_method are required.",
        ) from None
    # Conekta's OpenAPI (CustomerInfo) requires name, email and phone on an order's customer.
    info = body.get("customer_info") or {}
    for field in ("name", "email", "phone"):
        if not isinstance(info.get(field), str) or not info[field]:
            raise ConektaError(
                422, "parameter_validation_error", f"customer_info.{field} is required."
            )
    if kind not in ("cash", "spei"):
        raise ConektaError(422, "parameter_validation_error", f"Unsupported type {kind!r}.")
    if kind == "cash" and not 1_000 <= amount <= 1_000_000:
        raise ConektaError(
            422, "parameter_validation_error", "OXXO Pay accepts 10.00 to 10,000.00 MXN."
        )
    order_id = f"ord_{secrets.token_hex(10)}"
    charge_object = {
        "id": secrets.token_hex(12),
        "object": "charge",
        "livemode": False,
        "order_id": order_id,
        "amount": amount,
        "currency": "MXN",
        "status": "pending_payment",
        "created_at": int(time.time()),
        "paid_at": None,
        "payment_method": _payment_method(kind, amount, expires_at),
    }
    order = {
        "id": order_id,
        "object": "order",
        "livemode": False,
        "amount": amount,
        "amount_refunded": 0,
        "currency": "MXN",
        "payment_status": "pending_payment",
        "customer_info": body.get("customer_info", {}),
        "metadata": body.get("metadata", {}),
        "created_at": int(time.time()),
        "charges": {"object": "list", "has_more": False, "data": [charge_object]},
    }
    state.ledger.charges[order_id] = Charge(
        id=order_id,
        psp="conekta",
        idempotency_key=key,
        request_hash=request_hash,
        amount=amount,
        method="oxxo" if kind == "cash" else "spei",
        status="pending_payment",
        object=order,
    )
    if key:
        state.ledger.idempotency[f"conekta:order:{key}"] = order_id
    state.ledger.save()
    _lost(state)
    return JSONResponse(order)


@router.get("/orders")
async def list_orders(request: Request, search: str = "") -> JSONResponse:
    state = await _start(request)
    found = [
        c.object
        for c in state.ledger.charges.values()
        if c.psp == "conekta" and search in json.dumps(c.object.get("metadata", {}))
    ]
    return JSONResponse({"object": "list", "has_more": False, "data": found})


@router.get("/charges")
async def list_charges(
    request: Request,
    limit: int = conekta_report.DEFAULT_LIMIT,
    after: str | None = Query(None, alias="next"),
) -> JSONResponse:
    """Conekta's charge list (simulator/conekta_report.py), with any injected changes."""
    state = await _start(request)
    charges = served(state, "conekta", "charge", conekta_report.LINES["charge"])
    url = f"{state.public_url}/conekta/charges"
    return JSONResponse(conekta_report.page(charges, limit, after, url))


@router.get("/orders/{order_id}")
async def get_order(order_id: str, request: Request) -> JSONResponse:
    state = await _start(request)
    return JSONResponse(_order(state, order_id).object)


def _set_status(state: SimState, charge: Charge, status: str) -> None:
    charge.status = charge.object["payment_status"] = status
    charge.object["charges"]["data"][0]["status"] = status
    state.ledger.save()


@router.post("/orders/{order_id}/cancel")
async def cancel_order(order_id: str, request: Request) -> JSONResponse:
    state = await _start(request)
    charge = _order(state, order_id)
    if charge.status != "pending_payment" and charge.status != "canceled":
        raise ConektaError(
            422, "processing_error", f"La orden no puede cancelarse: está {charge.status}."
        )
    if charge.status == "pending_payment":
        _set_status(state, charge, "canceled")
        state.send_conekta_event("order.canceled", charge.object)
    _lost(state)
    return JSONResponse(charge.object)


@router.post("/orders/{order_id}/refunds")
async def refund_order(order_id: str, request: Request) -> JSONResponse:
    await _start(request)
    raise ConektaError(
        422, "processing_error", "Los pagos en efectivo y SPEI no se reembolsan por API."
    )


@router.post("/webhook_keys")
async def create_webhook_key(request: Request) -> JSONResponse:
    state = await _start(request)
    return JSONResponse(
        {
            "id": "whk_simulator",
            "object": "webhook_key",
            "active": True,
            "livemode": False,
            "created_at": int(time.time()),
            "public_key": state.conekta_public_key_pem(),
        }
    )


def apply_payment(state: SimState, charge: Charge, amount: int) -> str:
    """The customer pays; returns what happened. OXXO collects the exact amount; an SPEI
    transfer of any other amount is rejected and returned to the payer (Conekta's one-time
    CLABE), as is money for an order that is no longer pending."""
    if charge.status != "pending_payment" or amount != charge.amount - charge.amount_paid:
        return "returned to the payer"
    charge.amount_paid += amount
    _set_status(state, charge, "paid")
    charge.object["charges"]["data"][0]["paid_at"] = int(time.time())
    state.send_conekta_event("order.paid", charge.object)
    state.send_conekta_event("charge.paid", charge.object["charges"]["data"][0])
    return "paid"
