"""The MoonPay calls cobro makes, served under /moonpay, as MoonPay documents them.

Server to server (dev.moonpay.com/api-reference/widget; `Authorization: Api-Key sk_...`, bare
JSON answers, errors as `{"moonPayErrorCode", "message", "type", "errors"}`):
`GET /v1/transactions/{transactionId}`, `GET /v1/transactions/ext/{externalTransactionId}`
(an array) and `GET /v1/transactions` (newest first; simulator/moonpay_report.py, with any
injected report changes). The widget (`GET /moonpay/buy?...&signature=...`, standing in for
https://buy.moonpay.com) loads only with a valid signature. Webhooks `transaction_created`,
`transaction_updated`, `transaction_failed`, signed with `Moonpay-Signature-V2`
(simulator/moonpay_journey.py), retried until cobro answers 2xx.

The customer's purchase is driven by `POST /_sim/moonpay/buy` (simulator/moonpay_journey.py).
"""

import html
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from simulator import moonpay_report
from simulator.moonpay_common import MoonpayError, error_response, lost, reset, start_call
from simulator.moonpay_journey import Failure, buy, open_widget, purchases_of
from simulator.report_changes import served
from simulator.state import SimState

__all__ = ["MoonpayError", "control", "error_response", "reset", "router"]

router = APIRouter(prefix="/moonpay")
control = APIRouter(prefix="/_sim/moonpay")


@router.get("/v1/transactions")
async def list_transactions(
    request: Request,
    start: Annotated[date | None, Query(alias="startDate")] = None,
    end: Annotated[date | None, Query(alias="endDate")] = None,
    limit: int = moonpay_report.DEFAULT_LIMIT,
    offset: int = 0,
) -> JSONResponse:
    state = await start_call(request)
    transactions = served(state, "moonpay", "charge", moonpay_report.LINES["charge"])
    return JSONResponse(moonpay_report.listed(transactions, start, end, limit, offset))


@router.get("/v1/transactions/ext/{external_id}")
async def transactions_of(external_id: str, request: Request) -> JSONResponse:
    state = await start_call(request)
    found = [c.object for c in purchases_of(state, external_id)]
    lost(state)
    return JSONResponse(found)


@router.get("/v1/transactions/{transaction_id}")
async def get_transaction(transaction_id: str, request: Request) -> JSONResponse:
    state = await start_call(request)
    charge = state.ledger.charges.get(transaction_id)
    if charge is None or charge.psp != "moonpay":
        raise MoonpayError(404, "4_TRANSACTION_NOT_FOUND", "Not found.", "NotFoundError")
    return JSONResponse(charge.object)


@router.get("/buy", response_class=HTMLResponse)
async def widget_page(request: Request) -> str:
    """What the customer sees at the URL cobro showed (a 400 when the signature is wrong)."""
    state: SimState = request.app.state.sim
    params = open_widget(state, str(request.url))
    started = purchases_of(state, params["externalTransactionId"])
    status = started[-1].status if started else "not started"
    return (
        f"<h1>MoonPay (simulated)</h1><p>Buy {html.escape(params['currencyCode'])} for "
        f"{html.escape(params['baseCurrencyAmount'])} MXN</p>"
        f"<p>To wallet <code>{html.escape(params['walletAddress'])}</code></p>"
        f"<p>Purchase: {html.escape(status)}</p>"
    )


class BuyRequest(BaseModel):
    url: str  # the widget URL cobro showed (the payment's instructions.hosted_url)
    # Which step fails: "verification" (identity rejected), "payment" (card declined) or
    # "delivery" (the crypto cannot be sent: MoonPay returns the fiat).
    fail: Failure | None = None


@control.post("/buy")
async def customer_buys(body: BuyRequest, request: Request) -> dict[str, Any]:
    state: SimState = request.app.state.sim
    if not body.url.startswith(f"{state.public_url}/moonpay/buy?"):
        raise HTTPException(400, "not a URL of the simulated MoonPay widget")
    return buy(state, body.url, body.fail)
