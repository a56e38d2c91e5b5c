"""The customer's purchase in the simulated MoonPay widget, and the webhooks that tell cobro
(simulator/moonpay_api.py serves the widget page and the server-to-server API).

`POST /_sim/moonpay/buy {"url": <the widget URL cobro showed>}` is the customer opening the URL
and buying: the URL must be signed as MoonPay checks it (cobro/psp/moonpay/widget.py), else
the widget does not load (400). MoonPay then creates the buy transaction (`pending`,
`transaction_created`), takes the card payment and sends the crypto (`completed`, with a
`cryptoTransactionId`, `transaction_updated`), or fails (`failed`, `transaction_failed`): at
identity verification (`fail: "verification"`, nothing charged), at the card
(`"payment"`, declined, nothing charged) or at delivery (`"delivery"`: the fiat is returned).
Each step is one signed webhook, and each waits until cobro acknowledged the previous one (or
ACK_WAIT_S passed), so cobro sees them in order.

Simulated, not MoonPay's: one live purchase per `externalTransactionId` (the URL can be used
again only after a failed one), the rates and fees, the failure reasons, and the
`baseCurrency` / `currency` objects holding only `code`.
"""

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from fastapi import HTTPException

from cobro.psp.moonpay import mapping, signature, widget
from simulator.ledger import Charge
from simulator.moonpay_common import iso, spawn
from simulator.state import SimState, now_utc

ACK_WAIT_S = 10.0  # how long a step waits for cobro to acknowledge the previous webhook
DELIVERY_S = 0.3  # "blockchain confirmation" between the card payment and the crypto sent

# MXN per unit, and how many decimals MoonPay delivers, per crypto currency (made up).
RATES = {
    "usdc": (Decimal("18.50"), 6),
    "usdt": (Decimal("18.55"), 6),
    "eth": (Decimal("65000.00"), 8),
    "btc": (Decimal("1900000.00"), 8),
    "sol": (Decimal("3000.00"), 6),
}
FEE_RATE = Decimal("0.0399")  # a card fee like MoonPay's (made up), a share of the amount
NETWORK_FEE = Decimal("5.00")  # MXN

Failure = Literal["verification", "payment", "delivery"]


def open_widget(state: SimState, url: str) -> dict[str, str]:
    """The widget's parameters, once the URL's key and signature check out (MoonPay's widget
    does not load otherwise)."""
    query = urlsplit(url).query
    signed, sep, given = query.rpartition("&signature=")
    if not sep or "&" in given:
        raise HTTPException(400, "the widget URL must end with its signature")
    secret = state.settings.moonpay_api_key.get_secret_value()
    if widget.signature("?" + signed, secret) != unquote(given):
        raise HTTPException(400, "the widget URL's signature is not valid: the widget won't load")
    params = dict(parse_qsl(signed, keep_blank_values=True))
    if params.get("apiKey") != state.settings.moonpay_publishable_key:
        raise HTTPException(400, "the widget URL's apiKey is not the account's publishable key")
    for name in ("currencyCode", "baseCurrencyAmount", "walletAddress", "externalTransactionId"):
        if not params.get(name):
            raise HTTPException(400, f"the widget URL has no {name}")
    if params["currencyCode"] not in RATES or params.get("baseCurrencyCode") != "mxn":
        raise HTTPException(400, "the simulated widget sells usdc/usdt/eth/btc/sol for mxn")
    return params


def purchases_of(state: SimState, external_id: str) -> list[Charge]:
    return [
        c
        for c in state.ledger.charges.values()
        if c.psp == "moonpay" and c.object.get("externalTransactionId") == external_id
    ]


def _new_transaction(params: dict[str, str]) -> dict[str, Any]:
    total = Decimal(params["baseCurrencyAmount"])
    fee = (total * FEE_RATE).quantize(Decimal("0.01"))
    base = total - fee - NETWORK_FEE
    rate, places = RATES[params["currencyCode"]]
    now = iso(now_utc())
    return {
        "id": str(uuid.uuid4()),
        "createdAt": now,
        "updatedAt": now,
        "baseCurrencyAmount": float(base),
        "quoteCurrencyAmount": float((base / rate).quantize(Decimal(1).scaleb(-places))),
        "feeAmount": float(fee),
        "extraFeeAmount": 0,
        "networkFeeAmount": float(NETWORK_FEE),
        "areFeesIncluded": True,
        "status": "pending",
        "failureReason": None,
        "walletAddress": params["walletAddress"],
        "cryptoTransactionId": None,
        "baseCurrency": {"code": params["baseCurrencyCode"]},
        "currency": {"code": params["currencyCode"]},
        "customerId": str(uuid.uuid4()),
        "externalTransactionId": params["externalTransactionId"],
        "externalCustomerId": params.get("externalCustomerId"),
    }


def buy(state: SimState, url: str, fail: Failure | None) -> dict[str, Any]:
    """The customer buys at the widget URL (POST /_sim/moonpay/buy). The ledger holds the
    card payment when this returns; the crypto leg follows in the background."""
    params = open_widget(state, url)
    live = [c for c in purchases_of(state, params["externalTransactionId"]) if c.status != "failed"]
    if live:
        return {**live[0].public(), "outcome": f"not charged: a purchase is {live[0].status}"}
    tx = _new_transaction(params)
    charge = Charge(
        id=tx["id"],
        psp="moonpay",
        idempotency_key=params["externalTransactionId"],
        request_hash=url,
        amount=mapping.amount_to_centavos(params["baseCurrencyAmount"]),
        method="crypto",
        status="pending",
        object=tx,
    )
    state.ledger.charges[charge.id] = charge
    steps = [("transaction_created", _snapshot(charge))]
    if fail in ("verification", "payment"):
        reason = {
            "verification": "identity_verification_failed",
            "payment": "payment_authorization_declined",
        }[fail]
        _set(charge, "failed", failureReason=reason)
        steps.append(("transaction_failed", _snapshot(charge)))
        outcome = f"{fail} failed; nothing was charged"
    else:
        charge.amount_paid = charge.amount
        outcome = "card charged; crypto delivery " + (
            "will fail" if fail == "delivery" else "in progress"
        )
    state.ledger.save()
    spawn(_journey(state, charge, steps, fail == "delivery"))
    return {**charge.public(), "outcome": outcome}


def _set(charge: Charge, status: str, **fields: Any) -> None:
    charge.status = status
    charge.object.update(status=status, updatedAt=iso(now_utc()), **fields)


def _snapshot(charge: Charge) -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(json.dumps(charge.object))
    return snapshot


async def _journey(
    state: SimState, charge: Charge, steps: list[tuple[str, dict[str, Any]]], fail: bool
) -> None:
    for event_type, data in steps:
        await _send_in_order(state, event_type, data)
    if charge.status == "failed":
        return
    await asyncio.sleep(DELIVERY_S)
    if fail:  # the crypto could not be sent: MoonPay returns the card payment
        _set(charge, "failed", failureReason="delivery_failed")
        charge.amount_refunded = charge.amount_paid
        event_type = "transaction_failed"
    else:
        _set(charge, "completed", cryptoTransactionId=f"0x{secrets.token_hex(32)}")
        event_type = "transaction_updated"
    state.ledger.save()
    send_event(state, event_type, charge.object)


def send_event(
    state: SimState,
    event_type: str,
    data: dict[str, Any],
    on_delivered: Callable[[Any], None] | None = None,
) -> int:
    """Send one signed webhook (a snapshot of `data`); how many copies went out (chaos)."""
    event = {
        "type": event_type,
        "data": json.loads(json.dumps(data)),
        "externalCustomerId": data.get("externalCustomerId"),
    }
    key = state.settings.moonpay_webhook_key.get_secret_value()
    body = json.dumps(event).encode()
    return state.deliver(
        "moonpay",
        body,
        lambda body: {signature.HEADER: signature.sign(body, key, int(time.time()))},
        on_delivered,
    )


async def _send_in_order(state: SimState, event_type: str, data: dict[str, Any]) -> None:
    """Send, then wait until cobro acknowledged it (or ACK_WAIT_S passed, or it was dropped)."""
    delivered = asyncio.Event()
    if send_event(state, event_type, data, lambda _response: delivered.set()):
        try:
            await asyncio.wait_for(delivered.wait(), ACK_WAIT_S)
        except TimeoutError:
            pass
