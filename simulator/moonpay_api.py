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

This module serves the transactions and is what simulator/app.py and simulator/control.py use;
the rest is in simulator/moonpay_quotes.py (quotes, and the quote lifetime), in
simulator/moonpay_journey.py (the customer's journey driven by `POST /_sim/pay`, expiry and
the webhooks) and in simulator/moonpay_common.py (errors, the API-key check, chaos).
"""

import html
import json
import secrets
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse

from cobro.psp.moonpay import mapping
from simulator import moonpay_quotes, moonpay_report
from simulator.ledger import Charge
from simulator.moonpay_common import (
    MoonpayError,
    error_response,
    iso,
    lost,
    reset,
    spawn,
    start_call,
)
from simulator.moonpay_journey import Failure, expire_if_due, expire_later, fail_purchase, pay
from simulator.moonpay_quotes import control, open_quote
from simulator.report_changes import served
from simulator.state import SimState, now_utc

__all__ = ["Failure", "MoonpayError", "control", "error_response", "pay", "reset", "router"]

router = APIRouter(prefix="/moonpay")
router.include_router(moonpay_quotes.router)


def _stage(kind: str, name: str) -> dict[str, Any]:
    return {"kind": kind, "name": name, "status": "not_started", "failureReason": None}


def _transaction(state: SimState, transaction_id: str) -> Charge:
    charge = state.ledger.charges.get(transaction_id)
    if charge is None or charge.psp != "moonpay":
        raise MoonpayError(
            404, "4_TRANSACTION_NOT_FOUND", "Transaction not found.", "NotFoundError"
        )
    expire_if_due(state, charge)
    return charge


@router.post("/platform/v1/transactions")
async def create_transaction(request: Request) -> JSONResponse:
    state = await start_call(request)
    body = await request.json()
    quote = open_quote(state, (body.get("quote") or {}).get("signature"))
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
        lost(state)
        return JSONResponse({"data": existing.object})
    if mapping.parse_time(quote["expiresAt"]) <= now_utc():
        raise MoonpayError(400, mapping.QUOTE_EXPIRED, "The quote has expired; get a new one.")
    transaction_id = f"tr_{secrets.token_hex(12)}"
    now = iso(now_utc())
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
    spawn(expire_later(state, transaction_id, delay))
    lost(state)
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
    state = await start_call(request)
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
    state = await start_call(request)
    return JSONResponse({"data": _transaction(state, transaction_id).object})


@router.post("/platform/v1/transactions/{transaction_id}/cancel")
async def cancel_transaction(transaction_id: str, request: Request) -> JSONResponse:
    state = await start_call(request)
    charge = _transaction(state, transaction_id)
    if charge.status == "pending":
        if not mapping.untouched(charge.object):
            raise MoonpayError(
                409,
                "4_TRANSACTION_IN_PROGRESS",
                "The customer has started this purchase; it can no longer be cancelled.",
                "ConflictError",
            )
        fail_purchase(state, charge, "payment", mapping.CANCELLED)
    elif charge.status == "completed":
        raise MoonpayError(
            409, "4_TRANSACTION_COMPLETED", "The purchase is complete.", "ConflictError"
        )
    lost(state)
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
