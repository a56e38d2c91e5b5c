"""What the simulated MoonPay does on its own and tells cobro by webhook (simulator/moonpay_api.py
serves its API): a purchase whose quote expires before the customer paid fails, and the
customer's journey at the hosted page runs.

The customer's journey is driven by `POST /_sim/pay` (simulator/control.py): optionally an
identity check (KYC), then the fiat leg (stage `payment`), then the crypto leg (stage
`delivery`, with a tx hash). Each step is one signed webhook, and each waits until cobro
acknowledged the previous one (or ACK_WAIT_S passed), as a real on-ramp's steps are seconds
apart: so cobro sees the legs in order. A failed delivery refunds the fiat at once.
"""

import asyncio
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, Literal

from fastapi import HTTPException

from cobro.psp.moonpay import mapping, signature
from simulator.ledger import Charge
from simulator.moonpay_common import iso, spawn
from simulator.state import SimState, now_utc

ACK_WAIT_S = 10.0  # how long a step waits for cobro to acknowledge the previous webhook
DELIVERY_S = 0.3  # "blockchain confirmation" between the fiat and the crypto leg


def set_stage(charge: Charge, kind: str, status: str, reason: str | None = None) -> None:
    for stage in charge.object["stages"]:
        if stage["kind"] == kind:
            stage["status"], stage["failureReason"] = status, reason
    charge.object["updatedAt"] = iso(now_utc())


def set_status(charge: Charge, status: str) -> None:
    charge.status = charge.object["status"] = status
    charge.object["updatedAt"] = iso(now_utc())


# ---- what MoonPay does on its own --------------------------------------------------------


def fail_purchase(state: SimState, charge: Charge, stage: str, reason: str) -> None:
    """Fail the purchase at `stage` and tell cobro."""
    set_stage(charge, stage, "failed", reason)
    set_status(charge, "failed")
    state.ledger.save()
    send_event(state, mapping.TRANSACTION_EVENT, charge.object)


def expire_if_due(state: SimState, charge: Charge) -> None:
    """A purchase whose quote ran out before the customer paid fails (`quote_expired`)."""
    tx = charge.object
    expires_at = mapping.parse_time(tx["quote"]["expiresAt"])
    if charge.status == "pending" and not mapping.fiat_received(tx) and now_utc() >= expires_at:
        fail_purchase(state, charge, "payment", mapping.QUOTE_EXPIRED)


async def expire_later(state: SimState, transaction_id: str, delay_s: float) -> None:
    await asyncio.sleep(max(delay_s, 0) + 0.05)
    charge = state.ledger.charges.get(transaction_id)
    if charge is not None:
        expire_if_due(state, charge)


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
        "timestamp": iso(now_utc()),
        "data": json.loads(json.dumps(data)),
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


def _identity(charge: Charge, status: str, reason: str | None = None) -> dict[str, Any]:
    customer = charge.object["customer"]
    return {
        "id": customer["id"],
        "externalCustomerId": customer.get("externalCustomerId"),
        "identityStatus": status,
        "failureReason": reason,
        "updatedAt": iso(now_utc()),
    }


def _snapshot(charge: Charge) -> dict[str, Any]:
    snapshot: dict[str, Any] = json.loads(json.dumps(charge.object))
    return snapshot


Failure = Literal["verification", "payment", "delivery"]


def pay(
    state: SimState, charge: Charge, amount: int | None, fail: Failure | None, kyc: bool
) -> dict[str, Any]:
    """The customer's journey at MoonPay's hosted page (POST /_sim/pay). The ledger holds the
    fiat when this returns; the crypto leg follows in the background."""
    expire_if_due(state, charge)
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
        set_stage(charge, "verification", "in_progress")
        steps += [
            (mapping.IDENTITY_EVENT, _identity(charge, "pending")),
            (mapping.TRANSACTION_EVENT, _snapshot(charge)),
        ]
        if fail == "verification":
            reason = "identity_verification_failed"
            set_stage(charge, "verification", "failed", reason)
            set_status(charge, "failed")
            steps += [
                (mapping.IDENTITY_EVENT, _identity(charge, "failed", reason)),
                (mapping.TRANSACTION_EVENT, _snapshot(charge)),
            ]
            outcome = "identity verification failed; nothing was charged"
        else:
            steps.append((mapping.IDENTITY_EVENT, _identity(charge, "completed")))
    if fail != "verification":
        set_stage(charge, "verification", "success")
        if fail == "payment":  # the card is authorised (processing), then declined
            set_stage(charge, "payment", "in_progress")
            steps.append((mapping.TRANSACTION_EVENT, _snapshot(charge)))
            set_stage(charge, "payment", "failed", "payment_authorization_declined")
            set_status(charge, "failed")
            outcome = "payment declined; nothing was charged"
        else:
            charge.amount_paid = charge.amount
            set_stage(charge, "payment", "success")
            set_stage(charge, "delivery", "in_progress")
            outcome = "fiat received; crypto delivery " + (
                "will fail" if fail == "delivery" else "in progress"
            )
        steps.append((mapping.TRANSACTION_EVENT, _snapshot(charge)))
    state.ledger.save()
    spawn(_journey(state, charge, steps, fail == "delivery"))
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
        set_stage(charge, "delivery", "failed", "error")
        set_status(charge, "failed")
        charge.amount_refunded = charge.amount_paid
        charge.object["refund"] = {
            "amount": mapping.centavos_to_amount(charge.amount_refunded),
            "status": "completed",
            "createdAt": iso(now_utc()),
        }
    else:
        set_stage(charge, "delivery", "success")
        set_status(charge, "completed")
        charge.object["cryptoTransactionId"] = f"0x{secrets.token_hex(32)}"
    state.ledger.save()
    send_event(state, mapping.TRANSACTION_EVENT, charge.object)
