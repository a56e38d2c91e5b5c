"""The simulated Mercado Pago's objects and notifications: payments as `GET /v1/payments/{id}`
shows them, refunds, and the signed Webhooks notifications MP sends when a payment changes
(`?data.id=<id>&type=payment`, `x-signature` and `x-request-id`; cobro/psp/mercadopago)."""

import json
import secrets
import string
import uuid
from datetime import UTC, datetime
from typing import Any

from clabe import compute_control_digit

from cobro.domain.expiry import MEXICO_CITY
from cobro.psp.mercadopago import mapping
from cobro.psp.mercadopago import signature as mp_signature
from simulator.ledger import Charge
from simulator.state import SimState

PSP = "mercadopago"
COLLECTOR_ID = 1_234_567_890  # the simulated seller's account (`collector_id`, `user_id`)


def now_mp() -> str:
    """MP writes times in the account's zone with milliseconds (Mexico City here)."""
    return mapping.mp_time(datetime.now(UTC).astimezone(MEXICO_CITY))


def new_id() -> int:
    """MP's payment and refund ids are integers (11 digits nowadays)."""
    return secrets.randbelow(9 * 10**10) + 10**10


def payment_object(body: dict[str, Any], payment_id: int, amount: int) -> dict[str, Any]:
    oxxo = body["payment_method_id"] == "oxxo"
    created = now_mp()
    url = f"https://www.mercadopago.com.mx/sandbox/payments/{payment_id}/ticket?caller_id=1"
    payment: dict[str, Any] = {
        "id": payment_id,
        "date_created": created,
        "date_approved": None,
        "date_last_updated": created,
        "date_of_expiration": body.get("date_of_expiration"),
        "money_release_date": None,
        "money_release_status": None,
        "operation_type": "regular_payment",
        "issuer_id": None,
        "payment_method_id": body["payment_method_id"],
        "payment_type_id": "ticket" if oxxo else "bank_transfer",
        "payment_method": {
            "id": body["payment_method_id"],
            "type": "ticket" if oxxo else "bank_transfer",
            "data": {"reference_id": str(payment_id), "external_reference_id": None},
        },
        "status": "pending",
        "status_detail": "pending_waiting_payment" if oxxo else "pending_waiting_transfer",
        "currency_id": "MXN",
        "description": body.get("description"),
        "live_mode": False,
        "collector_id": COLLECTOR_ID,
        "payer": {"id": None, "type": None, **(body.get("payer") or {})},
        "metadata": body.get("metadata") or {},
        "external_reference": body.get("external_reference"),
        "transaction_amount": mapping.to_pesos(amount),
        "transaction_amount_refunded": 0,
        "coupon_amount": 0,
        "installments": 1,
        "transaction_details": {
            "net_received_amount": 0,
            "total_paid_amount": mapping.to_pesos(amount),
            "overpaid_amount": 0,
            "external_resource_url": url,
            "installment_amount": 0,
            "financial_institution": None,
            "payable_deferral_period": None,
            "acquirer_reference": None,
        },
        "fee_details": [],
        "refunds": [],
        "captured": True,
        "binary_mode": False,
        "statement_descriptor": None,
        "notification_url": None,
        "point_of_interaction": {"type": "UNSPECIFIED", "transaction_data": {}},
    }
    if oxxo:
        reference = "".join(secrets.choice(string.digits) for _ in range(8))
        payment["transaction_details"] |= {
            "payment_method_reference_id": reference,
            "verification_code": reference
            + "".join(secrets.choice(string.digits) for _ in range(16)),
        }
        payment["barcode"] = {"content": "".join(secrets.choice(string.digits) for _ in range(30))}
    else:  # a CLABE at STP (bank code 646) for this payment only
        first17 = "646180" + "".join(secrets.choice(string.digits) for _ in range(11))
        clabe = first17 + str(compute_control_digit(first17))
        payment["transaction_details"]["financial_institution"] = "stp"
        payment["point_of_interaction"]["transaction_data"] = {
            "bank_info": {
                "collector": {
                    "account_number": clabe,
                    "long_name": "STP",
                    "account_holder_name": "Mercado Pago (simulado)",
                }
            }
        }
    return payment


def refund_object(payment: dict[str, Any], amount: int) -> dict[str, Any]:
    return {
        "id": new_id(),
        "payment_id": payment["id"],
        "amount": mapping.to_pesos(amount),
        "metadata": {},
        "source": {"id": str(COLLECTOR_ID), "name": "cobro", "type": "collector"},
        "date_created": now_mp(),
        "unique_sequence_number": None,
        "refund_mode": "standard",
        "adjustment_amount": 0,
        "status": "approved",
        "reason": None,
        "labels": [],
        "amount_refunded_to_payer": mapping.to_pesos(amount),
        "partition_details": [],
    }


def set_status(state: SimState, charge: Charge, status: str, detail: str) -> None:
    charge.status = charge.object["status"] = status
    charge.object["status_detail"] = detail
    charge.object["date_last_updated"] = now_mp()
    state.ledger.save()


def expire_if_due(state: SimState, charge: Charge) -> None:
    """MP cancels an unpaid ticket or transfer once `date_of_expiration` has passed."""
    expires = charge.object.get("date_of_expiration")
    if charge.status == "pending" and expires and mapping.parse_time(expires) < datetime.now(UTC):
        set_status(state, charge, "cancelled", "expired")
        notify(state, charge, "payment.updated")


def notify(state: SimState, charge: Charge, action: str) -> int:
    """Send MP's notification for a changed payment, signed per attempt; how many copies."""
    secret = state.settings.mercadopago_webhook_secret.get_secret_value()
    payment_id = str(charge.object["id"])
    body = json.dumps(
        {
            "id": new_id(),
            "live_mode": False,
            "type": "payment",
            "date_created": now_mp(),
            "user_id": COLLECTOR_ID,
            "api_version": "v1",
            "action": action,
            "data": {"id": payment_id},
        }
    ).encode()

    def sign(_: bytes) -> dict[str, str]:
        request_id = str(uuid.uuid4())
        return {
            "x-request-id": request_id,
            "x-signature": mp_signature.sign(secret, payment_id, request_id),
        }

    url = f"{state.settings.webhook_base_url}/webhooks/{PSP}?data.id={payment_id}&type=payment"
    delays = state.chaos.webhook_delays()
    for delay_s in delays:
        state.sender.send(url, body, sign, delay_s)
    return len(delays)
