"""The subset of Mercado Pago's Payments API v1 cobro's adapter uses, served under /mercadopago.

JSON bodies, `Authorization: Bearer <access token>`; `X-Idempotency-Key` replays the first
answer (the same key with another body is a 409). Errors as MP writes them: `{"message",
"error", "status", "cause": [{"code", "description"}]}`. Payments: `POST /v1/payments` (201,
`oxxo` ticket or `clabe` transfer), `GET /v1/payments/{id}`, `GET /v1/payments/search`, `PUT
/v1/payments/{id}` with `{"status": "cancelled"}`; refunds: `POST /v1/payments/{id}/refunds`
(201; `amount` for a partial one, none for the rest), `GET .../refunds[/{refund_id}]`.
"""

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cobro.psp.mercadopago import mapping
from simulator import mercadopago_objects as objects
from simulator.ledger import Charge
from simulator.state import SimState

router = APIRouter(prefix="/mercadopago")
PSP = objects.PSP
PAYABLE = ("pending", "in_process")


class MercadopagoError(Exception):
    def __init__(self, status: int, error: str, message: str, code: int = 0) -> None:
        self.status, self.error, self.message, self.code = status, error, message, code


def error_response(exc: MercadopagoError) -> JSONResponse:
    return JSONResponse(
        {
            "message": exc.message,
            "error": exc.error,
            "status": exc.status,
            "cause": [{"code": exc.code, "description": exc.message, "data": None}],
        },
        status_code=exc.status,
    )


def bad_request(message: str, code: int = 0) -> MercadopagoError:
    return MercadopagoError(400, "bad_request", message, code)


async def start(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    token = state.settings.mercadopago_access_token.get_secret_value()
    if request.headers.get("authorization") != f"Bearer {token}":
        raise MercadopagoError(401, "unauthorized", "invalid access token")
    if not state.rate_limits.allow(PSP):
        raise MercadopagoError(429, "too_many_requests", "Too many requests")
    if await state.chaos.before_api_call(PSP):
        raise MercadopagoError(503, "service_unavailable", "Simulated outage: nothing was done")
    return state


def _lost(state: SimState) -> None:
    if state.chaos.lose_response(PSP):
        raise MercadopagoError(503, "service_unavailable", "Simulated lost answer: it was done")


def _payment(state: SimState, payment_id: str) -> Charge:
    charge = state.ledger.charges.get(payment_id)
    if charge is None or charge.psp != PSP:
        raise MercadopagoError(404, "not_found", f"Payment not found: {payment_id}", 2000)
    objects.expire_if_due(state, charge)
    return charge


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise bad_request("the body is not JSON") from None
    if not isinstance(body, dict):
        raise bad_request("the body must be a JSON object")
    return body


def _replayed(state: SimState, kind: str, key: str | None, request_hash: str) -> str | None:
    """The id an idempotency key already made, if any; 409 for the same key, another body."""
    if not key:
        return None
    made = state.ledger.idempotency.get(f"{PSP}:{kind}:{key}")
    if made is None:
        return None
    if state.ledger.idempotency.get(f"{PSP}:{kind}-hash:{key}") != request_hash:
        raise MercadopagoError(409, "conflict", "X-Idempotency-Key reused with another request")
    return made


def _remember(state: SimState, kind: str, key: str | None, made: str, request_hash: str) -> None:
    if key:
        state.ledger.idempotency[f"{PSP}:{kind}:{key}"] = made
        state.ledger.idempotency[f"{PSP}:{kind}-hash:{key}"] = request_hash


@router.post("/v1/payments")
async def create_payment(request: Request) -> JSONResponse:
    state = await start(request)
    body = await json_body(request)
    key = request.headers.get("x-idempotency-key")
    request_hash = json.dumps(body, sort_keys=True)
    if (made := _replayed(state, "payment", key, request_hash)) is not None:
        charge = _payment(state, made)
        charge.create_calls += 1
        state.ledger.save()
        _lost(state)
        return JSONResponse(charge.object, status_code=201)
    try:
        amount = mapping.to_centavos(body["transaction_amount"])
    except (KeyError, ValueError):
        raise bad_request("transaction_amount must be a positive amount", 4037) from None
    method = body.get("payment_method_id")
    if method not in ("oxxo", "clabe"):
        raise bad_request(f"payment_method_id {method!r} is not available here", 4050)
    if not (body.get("payer") or {}).get("email"):
        raise bad_request("payer.email must be a valid email", 4050)
    if amount <= 0 or (method == "oxxo" and not 1_000 <= amount <= 1_000_000):
        raise bad_request("Invalid transaction_amount for oxxo (10.00 to 10,000.00 MXN)", 4037)
    payment = objects.payment_object(body, objects.new_id(), amount)
    payment_id = str(payment["id"])
    state.ledger.charges[payment_id] = Charge(
        id=payment_id,
        psp=PSP,
        idempotency_key=key,
        request_hash=request_hash,
        amount=amount,
        method="oxxo" if method == "oxxo" else "spei",
        status="pending",
        object=payment,
    )
    _remember(state, "payment", key, payment_id, request_hash)
    state.ledger.save()
    _lost(state)
    return JSONResponse(payment, status_code=201)


@router.get("/v1/payments/search")
async def search_payments(
    request: Request, external_reference: str | None = None, limit: int = 30, offset: int = 0
) -> JSONResponse:
    state = await start(request)
    found = [
        c.object
        for c in state.ledger.charges.values()
        if c.psp == PSP
        and (external_reference is None or c.object.get("external_reference") == external_reference)
    ]
    limit = max(1, min(limit, 1000))
    return JSONResponse(
        {
            "paging": {"total": len(found), "limit": limit, "offset": offset},
            "results": found[offset : offset + limit],
        }
    )


@router.get("/v1/payments/{payment_id}")
async def get_payment(payment_id: str, request: Request) -> JSONResponse:
    state = await start(request)
    return JSONResponse(_payment(state, payment_id).object)


@router.put("/v1/payments/{payment_id}")
async def update_payment(payment_id: str, request: Request) -> JSONResponse:
    state = await start(request)
    body = await json_body(request)
    charge = _payment(state, payment_id)
    if body.get("status") != "cancelled":
        raise bad_request('only {"status": "cancelled"} is simulated')
    if charge.status not in PAYABLE:
        raise bad_request(f"Payment can't be cancelled: it is {charge.status}", 4030)
    objects.set_status(state, charge, "cancelled", "by_collector")
    objects.notify(state, charge, "payment.updated")
    _lost(state)
    return JSONResponse(charge.object)


@router.post("/v1/payments/{payment_id}/refunds")
async def create_refund(payment_id: str, request: Request) -> JSONResponse:
    state = await start(request)
    raw = await request.body()
    body = await json_body(request) if raw.strip() else {}
    key = request.headers.get("x-idempotency-key")
    request_hash = f"{payment_id}:{json.dumps(body, sort_keys=True)}"
    charge = _payment(state, payment_id)
    refunds: list[dict[str, Any]] = charge.object["refunds"]
    if (made := _replayed(state, "refund", key, request_hash)) is not None:
        _lost(state)
        return JSONResponse(next(r for r in refunds if str(r["id"]) == made), status_code=201)
    if charge.status != "approved":
        raise bad_request(f"Payment not allowed to refund: it is {charge.status}", 2063)
    left = charge.amount_paid - charge.amount_refunded
    try:
        amount = mapping.to_centavos(body["amount"]) if "amount" in body else left
    except ValueError:
        raise bad_request("amount must be a positive amount", 4037) from None
    if not 0 < amount <= left:
        raise bad_request(f"Invalid refund amount: {left} centavos can be refunded", 2085)
    outcome = state.next_refund_outcome(charge.id)  # POST /_sim/refunds/plan
    if outcome == "rejected":
        raise bad_request("The refund was rejected: insufficient available balance", 2034)
    refund = objects.refund_object(charge.object, amount)
    refunds.append(refund)
    charge.amount_refunded += amount  # reserved while in process, given back if it fails
    _remember(state, "refund", key, str(refund["id"]), request_hash)
    if outcome == "pending":  # MP's "contingency": in process until POST /_sim/refunds/{id}
        refund["status"] = "in_process"
        state.ledger.save()
    else:
        _refunded(state, charge)
    _lost(state)
    return JSONResponse(refund, status_code=201)


def _refunded(state: SimState, charge: Charge) -> None:
    """The payment after an approved refund: partially refunded, or refunded in full."""
    approved = [r for r in charge.object["refunds"] if r["status"] == "approved"]
    total = sum(mapping.to_centavos(r["amount"]) for r in approved)
    charge.object["transaction_amount_refunded"] = mapping.to_pesos(total)
    full = total == charge.amount_paid
    detail = "refunded" if full else "partially_refunded"
    objects.set_status(state, charge, "refunded" if full else "approved", detail)
    objects.notify(state, charge, "payment.updated")


def refund_of(state: SimState, refund_id: str) -> tuple[Charge, dict[str, Any]] | None:
    for charge in state.ledger.charges.values():
        if charge.psp == PSP:
            for refund in charge.object["refunds"]:
                if str(refund["id"]) == refund_id:
                    return charge, refund
    return None


def settle_refund(state: SimState, charge: Charge, refund: dict[str, Any], status: str) -> None:
    """An in-process refund ends: `approved`, or `rejected` / `cancelled` (the money stays).
    Raises ValueError for a move MP would not make."""
    if refund["status"] != "in_process":
        raise ValueError(f"refund {refund['id']} is already {refund['status']}")
    if status not in ("approved", "rejected", "cancelled"):
        raise ValueError(f"{status!r} is not how a Mercado Pago refund ends")
    refund["status"] = status
    if status == "approved":
        _refunded(state, charge)
        return
    charge.amount_refunded -= mapping.to_centavos(refund["amount"])
    state.ledger.save()


@router.get("/v1/payments/{payment_id}/refunds")
async def list_refunds(payment_id: str, request: Request) -> JSONResponse:
    state = await start(request)
    return JSONResponse(_payment(state, payment_id).object["refunds"])


@router.get("/v1/payments/{payment_id}/refunds/{refund_id}")
async def get_refund(payment_id: str, refund_id: str, request: Request) -> JSONResponse:
    state = await start(request)
    for refund in _payment(state, payment_id).object["refunds"]:
        if str(refund["id"]) == refund_id:
            return JSONResponse(refund)
    raise MercadopagoError(404, "not_found", f"Refund not found: {refund_id}", 2000)


def apply_payment(state: SimState, charge: Charge, amount: int) -> str:
    """The customer pays the ticket at OXXO, or transfers to the CLABE. MP takes the exact
    amount of a pending payment; any other transfer, or money for a payment no longer pending,
    goes back to the payer."""
    objects.expire_if_due(state, charge)
    if charge.status != "pending" or amount != charge.amount:
        return "returned to the payer"
    charge.amount_paid += amount
    approved = objects.now_mp()
    charge.object |= {"date_approved": approved, "money_release_date": approved}
    charge.object["transaction_details"]["net_received_amount"] = mapping.to_pesos(amount)
    objects.set_status(state, charge, "approved", "accredited")
    objects.notify(state, charge, "payment.updated")
    return "paid"
