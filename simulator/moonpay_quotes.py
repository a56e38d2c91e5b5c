"""MoonPay's buy quotes (`POST /platform/v1/quotes/buy`, served under /moonpay by
simulator/moonpay_api.py), and `PUT /_sim/moonpay` that sets how long new ones live.

A quote is self-contained and signed, so a restart or another process can check it."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from cobro.domain import money
from simulator.moonpay_common import (
    DEFAULT_QUOTE_TTL_S,
    MoonpayError,
    config,
    iso,
    lost,
    start_call,
)
from simulator.state import SimState, now_utc

router = APIRouter()
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


def _sign_quote(state: SimState, quote: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(quote, sort_keys=True).encode()).decode()
    key = state.settings.moonpay_api_key.get_secret_value().encode()
    return f"{payload}.{hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()}"


def open_quote(state: SimState, signed: object) -> dict[str, Any]:
    payload, _, mac = str(signed).partition(".")
    key = state.settings.moonpay_api_key.get_secret_value().encode()
    expected = hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), mac.encode()):
        raise MoonpayError(400, "4_QUOTE_INVALID", "The quote signature is not valid.")
    quote: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload))
    return quote


@router.post("/platform/v1/quotes/buy")
async def buy_quote(request: Request) -> JSONResponse:
    state = await start_call(request)
    body = money.loads(await request.body())  # a JSON number of pesos is read exactly
    try:
        fiat = str(body["source"]["asset"]["code"]).upper()
        centavos = money.to_centavos(body["source"]["amount"], "source.amount")
        crypto = str(body["destination"]["asset"]["code"]).lower()
        address = str(body["wallet"]["address"])
    except (KeyError, TypeError):
        raise MoonpayError(
            400, "4_SYS_BAD_REQUEST", "source, destination and wallet are required."
        ) from None
    except ValueError as exc:  # not whole centavos
        raise MoonpayError(400, "4_SYS_BAD_REQUEST", str(exc)) from None
    amount = money.to_pesos(centavos)
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
        "source": {"amount": money.pesos_string(centavos), "asset": {"code": fiat}},
        "destination": {"amount": str(crypto_amount), "asset": {"code": crypto.upper()}},
        "fees": {
            "moonpay": {"amount": f"{moonpay_fee:.2f}", "currencyCode": fiat},
            "network": {"amount": f"{NETWORK_FEE:.2f}", "currencyCode": fiat},
        },
        "wallet": {"address": address},
        "paymentMethod": body.get("paymentMethod") or {"type": "credit_debit_card"},
        "exchangeRate": f"{rate:.2f}",
        "executable": True,
        "expiresAt": iso(now_utc() + timedelta(seconds=config["quote_ttl_seconds"])),
    }
    lost(state)
    return JSONResponse({"data": {**quote, "signature": _sign_quote(state, quote)}})


class MoonpayConfig(BaseModel):
    quote_ttl_seconds: int = Field(default=DEFAULT_QUOTE_TTL_S, ge=1, le=7 * 86_400)


@control.put("")
async def configure(body: MoonpayConfig) -> MoonpayConfig:
    """How long new quotes live (30 minutes unless changed; POST /_sim/reset restores it)."""
    config["quote_ttl_seconds"] = body.quote_ttl_seconds
    return body
