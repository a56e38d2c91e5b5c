"""The subset of MoonPay's Platform API cobro's MoonPay adapter uses, served under /moonpay.

As MoonPay documents it (dev.moonpay.com, Platform API; notes/psp-wire.md §5):
`Authorization: Api-Key sk_...`; answers wrapped in `{"data": ...}`; errors as
`{"moonPayErrorCode", "message", "type", "errors"}`; `POST /platform/v1/quotes/buy` (a quote
with `source`, `destination`, `fees`, `wallet`, `paymentMethod`, a locked rate, its expiry and a
signature); `GET /platform/v1/transactions/{id}` (`status` pending | completed | failed and
`stages[] {kind, name, status, failureReason}`, later stages `not_started` after a failure);
`GET /platform/v1/transactions` (the list by creation date, cursor-paged: the report cobro
reconciles against, simulator/moonpay_report.py); webhooks `{"id", "type", "timestamp",
"data"}` signed with `Moonpay-Signature-V2: t=..,s=..` (HMAC-SHA256 of "{t}.{body}" with the
webhook key, MOONPAY_WEBHOOK_KEY), retried until cobro answers 2xx.

Simulated, not MoonPay's (see cobro/psp/moonpay/client.py): `POST /platform/v1/transactions`
(a purchase from a signed quote, deduplicated on `externalTransactionId`, with a `hostedUrl`),
`GET /platform/v1/transactions?externalTransactionId=`, `POST .../transactions/{id}/cancel`,
the hosted page `GET /moonpay/checkout/{id}`; the stage kinds `verification`, `payment`,
`delivery`; the transaction's `quote` and `refund` fields; the failure codes `quote_expired`
and `transaction_cancelled`; the webhook type `transaction.updated` and the `identityStatus`
field of `customer.identity_status_updated`; the rates and fees; a quote lives 30 minutes
(`PUT /_sim/moonpay {"quote_ttl_seconds"}` changes it), and a purchase whose quote expires
before the customer paid fails with `quote_expired`.

The customer's journey is driven by `POST /_sim/pay` (simulator/control.py): optionally an
identity check (KYC), then the fiat leg (stage `payment`), then the crypto leg (stage
`delivery`, with a tx hash). Each step is one signed webhook, and each waits until cobro
acknowledged the previous one (or ACK_WAIT_S passed), as a real on-ramp's steps are seconds
apart: so cobro sees the legs in order. A failed delivery refunds the fiat at once.
"""

import asyncio
import base64
import hashlib
import hmac
import html
import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from cobro.psp.moonpay import mapping, signature
from simulator import moonpay_report
from simulator.ledger import Charge
from simulator.report_changes import served
from simulator.state import SimState, now_utc

router = APIRouter(prefix="/moonpay")
control = APIRouter(prefix="/_sim/moonpay")

# MXN per unit, and how many decimals MoonPay delivers, per crypto currency (made up).
RATES = {
    "usdc": (Decimal("18.50"), 6),
    "usdt": (Decimal("18.55"), 6),
    "eth": (Decimal("65000.00"), 8),
    "btc": (Decimal("1900000.00"), 8),
    "sol": (Decimal("3000.00"), 6),
}
FEE_RATE = Decimal("0.0399")  # a card fee like MoonPay's (made up), as a share of the amount
NETWORK_FEE = Decimal("5.00")  # MXN
MIN_AMOUNT, MAX_AMOUNT = Decimal("200.00"), Decimal("50000.00")  # MXN per purchase
DEFAULT_QUOTE_TTL_S = 30 * 60
ACK_WAIT_S = 10.0  # how long a step waits for cobro to acknowledge the previous webhook
DELIVERY_S = 0.3  # "blockchain confirmation" between the fiat and the crypto leg

config: dict[str, int] = {"quote_ttl_seconds": DEFAULT_QUOTE_TTL_S}
_tasks: set[asyncio.Task[None]] = set()


class MoonpayError(Exception):
    def __init__(self, status: int, code: str, message: str, type_: str = "BadRequestError"):
        self.status, self.code, self.message, self.type = status, code, message, type_


def error_response(exc: MoonpayError) -> JSONResponse:
    body = {"moonPayErrorCode": exc.code, "message": exc.message, "type": exc.type, "errors": []}
    return JSONResponse(body, status_code=exc.status)


def reset() -> None:
    """Back to defaults, with no step of any journey still pending (POST /_sim/reset)."""
    config["quote_ttl_seconds"] = DEFAULT_QUOTE_TTL_S
    for task in _tasks:
        task.cancel()


def _spawn(coroutine: Any) -> None:
    task = asyncio.create_task(coroutine)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _start(request: Request) -> SimState:
    state: SimState = request.app.state.sim
    if request.headers.get("authorization") != f"Api-Key {state.settings.moonpay_api_key}":
        raise MoonpayError(401, "4_SYS_UNAUTHORIZED", "Invalid API key", "UnauthorizedError")
    if await state.chaos.before_api_call("moonpay"):
        raise MoonpayError(503, "5_SYS_UNAVAILABLE", "Simulated outage: nothing was done.")
    return state


def _lost(state: SimState) -> None:
    if state.chaos.lose_response("moonpay"):
        raise MoonpayError(503, "5_SYS_UNAVAILABLE", "Simulated lost response: it was done.")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- quotes: self-contained and signed, so a restart or another process can check them ----


def _sign_quote(state: SimState, quote: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(quote, sort_keys=True).encode()).decode()
    key = (state.settings.moonpay_api_key or "").encode()
    return f"{payload}.{hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()}"


def _open_quote(state: SimState, signed: object) -> dict[str, Any]:
    payload, _, mac = str(signed).partition(".")
    key = (state.settings.moonpay_api_key or "").encode()
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise MoonpayError(400, "4_QUOTE_INVALID", "The quote signature is not valid.")
    quote: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return quote


@router.post("/platform/v1/quotes/buy")
async def buy_quote(request: Request) -> JSONResponse:
    state = await _start(request)
    body = await request.json()
    try:
        fiat = str(body["source"]["asset"]["code"]).upper()
        amount = Decimal(str(body["source"]["amount"]))
        crypto = str(body["destination"]["asset"]["code"]).lower()
        address = str(body["wallet"]["address"])
    except (KeyError, TypeError, ArithmeticError):
        raise MoonpayError(
            400, "4_SYS_BAD_REQUEST", "source, destination and wallet are required."
        ) from None
    if fiat != "MXN" or crypto not in RATES:
        raise MoonpayError(400, "4_CURRENCY_UNSUPPORTED", f"Cannot buy {crypto} with {fiat}.")
    if not MIN_AMOUNT <= amount <= MAX_AMOUNT:
        raise MoonpayError(
            400,
            "4_AMOUNT_OUT_OF_RANGE",
            f"Amount must be between {MIN_AMOUNT} and {MAX_AMOUNT} {fiat}.",
        )
    rate, precision = RATES[crypto]
    moonpay_fee = (amount * FEE_RATE).quantize(Decimal("0.01"))
    crypto_amount = ((amount - moonpay_fee - NETWORK_FEE) / rate).quantize(
        Decimal(1).scaleb(-precision), rounding=ROUND_DOWN
    )
    quote = {
        "source": {"amount": f"{amount:.2f}", "asset": {"code": fiat}},
        "destination": {"amount": str(crypto_amount), "asset": {"code": crypto.upper()}},
        "fees": {
            "moonpay": {"amount": f"{moonpay_fee:.2f}", "currencyCode": fiat},
            "network": {"amount": f"{NETWORK_FEE:.2f}", "currencyCode": fiat},
        },
        "wallet": {"address": address},
        "paymentMethod": body.get("paymentMethod") or {"type": "credit_debit_card"},
        "exchangeRate": f"{rate:.2f}",
        "executable": True,
        "expiresAt": _iso(now_utc() + timedelta(seconds=config["quote_ttl_seconds"])),
    }
    _lost(state)
    return JSONResponse({"data": {**quote, "signature": _sign_quote(state, quote)}})


# ---- transactions ----------------------------------------------------------------------


def _stage(kind: str, name: str) -> dict[str, Any]:
    return {"kind": kind, "name": name, "status": "not_started", "failureReason": None}


def _set_stage(charge: Charge, kind: str, status: str, reason: str | None = None) -> None:
    for stage in charge.object["stages"]:
        if stage["kind"] == kind:
            stage["status"], stage["failureReason"] = status, reason
    charge.object["updatedAt"] = _iso(now_utc())


def _set_status(charge: Charge, status: str) -> None:
    charge.status = charge.object["status"] = status
    charge.object["updatedAt"] = _iso(now_utc())


def _transaction(state: SimState, transaction_id: str) -> Charge:
    charge = state.ledger.charges.get(transaction_id)
    if charge is None or charge.psp != "moonpay":
        raise MoonpayError(
            404, "4_TRANSACTION_NOT_FOUND", "Transaction not found.", "NotFoundError"
        )
    _expire_if_due(state, charge)
    return charge


@router.post("/platform/v1/transactions")
async def create_transaction(request: Request) -> JSONResponse:
    state = await _start(request)
    body = await request.json()
    quote = _open_quote(state, (body.get("quote") or {}).get("signature"))
    external_id = body.get("externalTransactionId")
    if not isinstance(external_id, str) or not external_id:
        raise MoonpayError(400, "4_SYS_BAD_REQUEST", "externalTransactionId is required.")
    wallet = body.get("wallet") or quote["wallet"]
    request_hash = json.dumps(
        [quote["source"], quote["destination"]["asset"], wallet], sort_keys=True
    )
    if existing_id := state.ledger.idempotency.get(f"moonpay:transaction:{external_id}"):
        existing = _transaction(state, existing_id)
        if existing.request_hash != request_hash:
            raise MoonpayError(
                409,
                "4_TRANSACTION_CONFLICT",
                f"externalTransactionId {external_id} belongs to another purchase.",
                "ConflictError",
            )
        existing.create_calls += 1
        state.ledger.save()
        _lost(state)
        return JSONResponse({"data": existing.object})
    if mapping.parse_time(quote["expiresAt"]) <= now_utc():
        raise MoonpayError(400, mapping.QUOTE_EXPIRED, "The quote has expired; get a new one.")
    transaction_id = f"tr_{secrets.token_hex(12)}"
    now = _iso(now_utc())
    transaction = {
        "id": transaction_id,
        "createdAt": now,
        "updatedAt": now,
        "status": "pending",
        "source": quote["source"],
        "destination": quote["destination"],
        "fees": quote["fees"],
        "wallet": wallet,
        "customer": {
            "id": f"cus_{secrets.token_hex(8)}",
            "externalCustomerId": body.get("externalCustomerId"),
        },
        "paymentMethod": quote["paymentMethod"],
        "externalTransactionId": external_id,
        "stages": [
            _stage("verification", "Identity verification"),
            _stage("payment", "Payment"),
            _stage("delivery", "Crypto delivery"),
        ],
        "quote": {"exchangeRate": quote["exchangeRate"], "expiresAt": quote["expiresAt"]},
        "cryptoTransactionId": None,
        "refund": None,
        "hostedUrl": f"{state.public_url}/moonpay/checkout/{transaction_id}",
    }
    charge = Charge(
        id=transaction_id,
        psp="moonpay",
        idempotency_key=external_id,
        request_hash=request_hash,
        amount=mapping.amount_to_centavos(quote["source"]["amount"]),
        method="crypto",
        status="pending",
        object=transaction,
    )
    state.ledger.charges[transaction_id] = charge
    state.ledger.idempotency[f"moonpay:transaction:{external_id}"] = transaction_id
    state.ledger.save()
    delay = (mapping.parse_time(quote["expiresAt"]) - now_utc()).total_seconds()
    _spawn(_expire_later(state, transaction_id, delay))
    _lost(state)
    return JSONResponse({"data": transaction})


@router.get("/platform/v1/transactions")
async def list_transactions(
    request: Request,
    external_id: Annotated[str | None, Query(alias="externalTransactionId")] = None,
    start: Annotated[date | None, Query(alias="startDate")] = None,
    end: Annotated[date | None, Query(alias="endDate")] = None,
    cursor: str | None = None,
    limit: int = moonpay_report.DEFAULT_LIMIT,
) -> JSONResponse:
    """MoonPay's transaction list (simulator/moonpay_report.py), the report cobro reconciles
    against, with any injected changes; or, with `externalTransactionId` (simulated), the
    purchases made for one payment, as MoonPay has them."""
    state = await _start(request)
    if external_id is not None:
        found = [
            c.object
            for c in state.ledger.charges.values()
            if c.psp == "moonpay" and c.object.get("externalTransactionId") == external_id
        ]
        return JSONResponse({"data": found, "pageInfo": {"nextCursor": None}})
    transactions = served(state, "moonpay", "charge", moonpay_report.LINES["charge"])
    return JSONResponse(moonpay_report.listed(transactions, start, end, cursor, limit))


@router.get("/platform/v1/transactions/{transaction_id}")
async def get_transaction(transaction_id: str, request: Request) -> JSONResponse:
    state = await _start(request)
    return JSONResponse({"data": _transaction(state, transaction_id).object})


@router.post("/platform/v1/transactions/{transaction_id}/cancel")
async def cancel_transaction(transaction_id: str, request: Request) -> JSONResponse:
    state = await _start(request)
    charge = _transaction(state, transaction_id)
    if charge.status == "pending":
        if not mapping.untouched(charge.object):
            raise MoonpayError(
                409,
                "4_TRANSACTION_IN_PROGRESS",
                "The customer has started this purchase; it can no longer be cancelled.",
                "ConflictError",
            )
        _fail(state, charge, "payment", mapping.CANCELLED)
    elif charge.status == "completed":
        raise MoonpayError(
            409, "4_TRANSACTION_COMPLETED", "The purchase is complete.", "ConflictError"
        )
    _lost(state)
    return JSONResponse({"data": charge.object})


@router.get("/checkout/{transaction_id}", response_class=HTMLResponse)
async def checkout(transaction_id: str, request: Request) -> str:
    state: SimState = request.app.state.sim
    charge = _transaction(state, transaction_id)
    tx = charge.object
    return (
        f"<h1>MoonPay (simulated)</h1><p>Pay {html.escape(tx['source']['amount'])} MXN for "
        f"{html.escape(tx['destination']['amount'])} "
        f"{html.escape(tx['destination']['asset']['code'])}</p>"
        f"<p>To wallet <code>{html.escape(str(tx['wallet'].get('address')))}</code></p>"
        f"<p>Quote valid until {html.escape(tx['quote']['expiresAt'])}; status "
        f"{html.escape(charge.status)}</p>"
    )


# ---- what MoonPay does on its own --------------------------------------------------------


def _fail(state: SimState, charge: Charge, stage: str, reason: str) -> None:
    """Fail the purchase at `stage` and tell cobro."""
    _set_stage(charge, stage, "failed", reason)
    _set_status(charge, "failed")
    state.ledger.save()
    send_event(state, mapping.TRANSACTION_EVENT, charge.object)


def _expire_if_due(state: SimState, charge: Charge) -> None:
    """A purchase whose quote ran out before the customer paid fails (`quote_expired`)."""
    tx = charge.object
    expires_at = mapping.parse_time(tx["quote"]["expiresAt"])
    if charge.status == "pending" and not mapping.fiat_received(tx) and now_utc() >= expires_at:
        _fail(state, charge, "payment", mapping.QUOTE_EXPIRED)


async def _expire_later(state: SimState, transaction_id: str, delay_s: float) -> None:
    await asyncio.sleep(max(delay_s, 0) + 0.05)
    charge = state.ledger.charges.get(transaction_id)
    if charge is not None:
        _expire_if_due(state, charge)


# ---- webhooks ----------------------------------------------------------------------------


def send_event(
    state: SimState,
    event_type: str,
    data: dict[str, Any],
    on_delivered: Callable[[Any], None] | None = None,
) -> int:
    """Send one signed webhook (a snapshot of `data`); how many copies went out (chaos)."""
    event = {
        "id": f"evt_{secrets.token_hex(12)}",
        "type": event_type,
        "timestamp": _iso(now_utc()),
        "data": json.loads(json.dumps(data)),
    }
    key = state.settings.moonpay_webhook_key or ""
    body = json.dumps(event).encode()
    delays = state.chaos.webhook_delays()
    for delay_s in delays:
        state.sender.send(
            f"{state.settings.webhook_base_url}/webhooks/moonpay",
            body,
            lambda body: {signature.HEADER: signature.sign(body, key, int(time.time()))},
            delay_s,
            on_delivered,
        )
    return len(delays)


async def _send_in_order(state: SimState, event_type: str, data: dict[str, Any]) -> None:
    """Send, then wait until cobro acknowledged it (or ACK_WAIT_S passed, or it was dropped)."""
    delivered = asyncio.Event()
    if send_event(state, event_type, data, lambda _response: delivered.set()):
        try:
            await asyncio.wait_for(delivered.wait(), ACK_WAIT_S)
        except TimeoutError:
            pass


def _identity(charge: Charge, status: str, reason: str | None = None) -> dict[str, Any]:
    customer = charge.object["customer"]
    return {
        "id": customer["id"],
        "externalCustomerId": customer.get("externalCustomerId"),
        "identityStatus": status,
        "failureReason": reason,
        "updatedAt": _iso(now_utc()),
    }


def _snapshot(charge: Charge) -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(json.dumps(charge.object))
    return snapshot


Failure = Literal["verification", "payment", "delivery"]


class MoonpayConfig(BaseModel):
    quote_ttl_seconds: int = Field(default=DEFAULT_QUOTE_TTL_S, ge=1, le=7 * 86_400)


@control.put("")
async def configure(body: MoonpayConfig) -> MoonpayConfig:
    """How long new quotes live (30 minutes unless changed; POST /_sim/reset restores it)."""
    config["quote_ttl_seconds"] = body.quote_ttl_seconds
    return body


def pay(
    state: SimState, charge: Charge, amount: int | None, fail: Failure | None, kyc: bool
) -> dict[str, Any]:
    """The customer's journey at MoonPay's hosted page (POST /_sim/pay). The ledger holds the
    fiat when this returns; the crypto leg follows in the background."""
    _expire_if_due(state, charge)
    tx = charge.object
    if amount is not None and amount != charge.amount:
        raise HTTPException(400, f"MoonPay charges exactly the quoted {charge.amount} centavos")
    if charge.status != "pending" or mapping.fiat_received(tx):
        reason = (mapping.failed_stage(tx) or {}).get("failureReason")
        return {
            **charge.public(),
            "outcome": f"not charged: the purchase is {charge.status}"
            + (f" ({reason})" if reason else ""),
        }
    steps: list[tuple[str, dict[str, Any]]] = []
    outcome = ""
    if kyc or fail == "verification":
        _set_stage(charge, "verification", "in_progress")
        steps += [
            (mapping.IDENTITY_EVENT, _identity(charge, "pending")),
            (mapping.TRANSACTION_EVENT, _snapshot(charge)),
        ]
        if fail == "verification":
            reason = "identity_verification_failed"
            _set_stage(charge, "verification", "failed", reason)
            _set_status(charge, "failed")
            steps += [
                (mapping.IDENTITY_EVENT, _identity(charge, "failed", reason)),
                (mapping.TRANSACTION_EVENT, _snapshot(charge)),
            ]
            outcome = "identity verification failed; nothing was charged"
        else:
            steps.append((mapping.IDENTITY_EVENT, _identity(charge, "completed")))
    if fail != "verification":
        _set_stage(charge, "verification", "success")
        if fail == "payment":  # the card is authorised (processing), then declined
            _set_stage(charge, "payment", "in_progress")
            steps.append((mapping.TRANSACTION_EVENT, _snapshot(charge)))
            _set_stage(charge, "payment", "failed", "payment_authorization_declined")
            _set_status(charge, "failed")
            outcome = "payment declined; nothing was charged"
        else:
            charge.amount_paid = charge.amount
            _set_stage(charge, "payment", "success")
            _set_stage(charge, "delivery", "in_progress")
            outcome = "fiat received; crypto delivery " + (
                "will fail" if fail == "delivery" else "in progress"
            )
        steps.append((mapping.TRANSACTION_EVENT, _snapshot(charge)))
    state.ledger.save()
    _spawn(_journey(state, charge, steps, fail == "delivery"))
    return {**charge.public(), "outcome": outcome}


async def _journey(
    state: SimState, charge: Charge, steps: list[tuple[str, dict[str, Any]]], fail: bool
) -> None:
    for event_type, data in steps:
        await _send_in_order(state, event_type, data)
    if not mapping.fiat_received(charge.object):
        return
    await asyncio.sleep(DELIVERY_S)
    if fail:  # any delivery failure is `error` (MoonPay's stage failure reasons)
        _set_stage(charge, "delivery", "failed", "error")
        _set_status(charge, "failed")
        charge.amount_refunded = charge.amount_paid
        charge.object["refund"] = {
            "amount": mapping.centavos_to_amount(charge.amount_refunded),
            "status": "completed",
            "createdAt": _iso(now_utc()),
        }
    else:
        _set_stage(charge, "delivery", "success")
        _set_status(charge, "completed")
        charge.object["cryptoTransactionId"] = f"0x{secrets.token_hex(32)}"
    state.ledger.save()
    send_event(state, mapping.TRANSACTION_EVENT, charge.object)
