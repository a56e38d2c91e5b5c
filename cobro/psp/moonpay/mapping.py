"""MoonPay transactions, identity checks and quotes in cobro's terms.

A crypto purchase has two legs: fiat in (the customer pays MXN at MoonPay: stage `payment`),
then crypto out (MoonPay sends the crypto to the wallet: stage `delivery`). Before them MoonPay
may verify the customer's identity (KYC: stage `verification`). Facts followed
(dev.moonpay.com, Platform API "Transaction", "Stage", "Stage failure reasons"; notes/psp-wire.md
§5): a transaction's `status` is pending | completed | failed and is what counts as final;
`stages[]` are `{kind, name, status, failureReason}`; only one stage fails, with a snake_case
`failureReason` (`error` when there is no more specific code, e.g. any delivery failure), and the
stages after it stay `not_started`; amounts are decimal strings. Stage kinds and statuses
(`verification`/`payment`/`delivery`; `not_started`/`in_progress`/`success`/`failed`) follow
the documented shape, but the names are the simulator's: MoonPay's stage-kind table is not
confirmed.

cobro's statuses:

- `awaiting_payment`: nothing started at MoonPay yet (the customer has not opened the hosted
  page);
- `processing` once MoonPay is working on the purchase: the customer's identity check is under
  way or done, or the fiat arrived and the crypto is on its way. From then on MoonPay decides
  the outcome (cobro's expiry timer stops, polling goes on);
- `succeeded` only when the crypto is delivered (status completed);
- `failed` when any stage fails after that (identity rejected, payment declined, delivery
  failed: MoonPay then refunds the fiat, and the failure reason says so);
- a transaction that failed before anything started because its quote expired (or cobro voided
  it) is `expired` (`canceled`): the rule for an expired quote is to expire, not to re-quote.
"""

from datetime import UTC, datetime
from typing import Any

from cobro.domain import money
from cobro.domain.payment import PspEvent, PspEventKind
from cobro.domain.timestamps import rfc3339_utc

STAGES = ("verification", "payment", "delivery")
STAGE_STATUSES = ("not_started", "in_progress", "success", "failed")
TRANSACTION_STATUSES = ("pending", "completed", "failed")
STARTED = frozenset({"in_progress", "success"})

# `status` -> cobro, refined by the stages (see transaction_kind).
TRANSACTION_STATUS_KINDS: dict[str, PspEventKind] = {
    "pending": "other",  # "processing" once a stage has started
    "completed": "paid",
    "failed": "failed",  # "expired"/"canceled" for an untouched transaction (below)
}
# failureReason of an untouched transaction that failed for these reasons -> cobro kind.
# Simulated codes (MoonPay's catalog lists payment declines, not these).
QUOTE_EXPIRED = "quote_expired"
CANCELLED = "transaction_cancelled"
UNTOUCHED_FAILURE_KINDS: dict[str, PspEventKind] = {
    QUOTE_EXPIRED: "expired",
    CANCELLED: "canceled",
}

# Customer identity (KYC) status -> cobro (webhook `customer.identity_status_updated`).
IDENTITY_EVENT = "customer.identity_status_updated"
IDENTITY_STATUS_KINDS: dict[str, PspEventKind] = {
    "pending": "processing",  # the customer is in MoonPay's flow: MoonPay decides from here
    "completed": "processing",
    "failed": "failed",
}
# Transaction webhooks. MoonPay documents that one is sent when a buy transaction changes; its
# event name is not confirmed, so any `transaction.*` type is read as the transaction's state.
TRANSACTION_EVENT = "transaction.updated"


def utc(moment: datetime) -> str:
    return rfc3339_utc(moment)


def parse_time(value: object) -> datetime:
    """ISO 8601 (`2026-01-29T14:30:50.000Z`) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise ValueError(f"not an ISO 8601 timestamp: {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"timestamp without a time zone: {value!r}")
    return moment.astimezone(UTC)


def centavos_to_amount(centavos: int) -> str:
    """Integer centavos as MoonPay's decimal string: 25000 -> "250.00"."""
    return money.pesos_string(centavos)


def amount_to_centavos(amount: object) -> int:
    """MoonPay's decimal string (or whole number) of pesos as exact integer centavos; ValueError
    for anything else, a float included."""
    return money.to_centavos(amount, "amount")


def stages(transaction: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        str(s.get("kind")): s
        for s in transaction.get("stages") or []
        if isinstance(s, dict) and s.get("kind")
    }


def stage_status(transaction: dict[str, Any], kind: str) -> str:
    return str(stages(transaction).get(kind, {}).get("status", "not_started"))


def failed_stage(transaction: dict[str, Any]) -> dict[str, Any] | None:
    return next((s for s in stages(transaction).values() if s.get("status") == "failed"), None)


def untouched(transaction: dict[str, Any]) -> bool:
    """No stage has started: the customer has not begun the purchase."""
    return not any(s.get("status") in STARTED for s in stages(transaction).values())


def transaction_kind(transaction: dict[str, Any]) -> PspEventKind:
    status = transaction.get("status")
    if status not in TRANSACTION_STATUS_KINDS:
        return "other"  # a status MoonPay may add later: kept and recorded, moves nothing
    started = not untouched(transaction)
    if status == "pending":
        return "processing" if started else "other"
    if status == "failed" and not started:
        reason = (failed_stage(transaction) or {}).get("failureReason")
        return UNTOUCHED_FAILURE_KINDS.get(str(reason), "failed")
    return TRANSACTION_STATUS_KINDS[status]


def fiat_received(transaction: dict[str, Any]) -> bool:
    return stage_status(transaction, "payment") == "success"


def failure_reason(transaction: dict[str, Any]) -> str:
    """Which stage failed and why, and what became of the customer's money."""
    stage = failed_stage(transaction)
    where = f"{stage.get('kind')} stage" if stage else "transaction"
    code = (stage or {}).get("failureReason") or "error"  # MoonPay: null means `error`
    reason = f"moonpay {where} failed: {code}"
    source = transaction.get("source") or {}
    currency = (source.get("asset") or {}).get("code", "MXN")
    refund = transaction.get("refund")
    if isinstance(refund, dict):
        done = refund.get("status") == "completed"
        reason += (
            f"; MoonPay {'refunded' if done else 'is refunding'} "
            f"{refund.get('amount')} {currency} to the customer"
        )
    elif fiat_received(transaction):
        reason += "; the customer's payment is to be refunded by MoonPay"
    else:
        reason += "; nothing was charged"
    return reason


def describe(transaction: dict[str, Any]) -> str:
    """`completed: verification success, payment success, delivery success; tx 0x...`, or
    `failed: verification success, payment failed (quote_expired), delivery not_started`."""
    found = stages(transaction)
    kinds = [k for k in STAGES if k in found] + [k for k in found if k not in STAGES]
    parts = []
    for kind in kinds:
        stage = found[kind]
        part = f"{kind} {stage.get('status')}"
        if stage.get("status") == "failed":
            part += f" ({stage.get('failureReason') or 'error'})"
        parts.append(part)
    text = f"{transaction.get('status')}: {', '.join(parts) or 'no stages'}"
    if tx_hash := transaction.get("cryptoTransactionId"):
        text += f"; tx {tx_hash}"
    return text


def poll_event_id(transaction: dict[str, Any]) -> str:
    """Identifies an observed state, so a poll that sees nothing new is a duplicate."""
    found = stages(transaction)
    observed = ",".join(f"{k}={s.get('status')}" for k, s in sorted(found.items()))
    return f"poll:{transaction.get('id')}:{transaction.get('status')}:{observed}"


def _id(obj: dict[str, Any]) -> str:
    value = obj["id"]
    if not isinstance(value, str) or not value:
        raise ValueError(f"id must be a non-empty string, not {value!r}")
    return value


def event_from_transaction(
    transaction: dict[str, Any], event_id: str, occurred_at: datetime
) -> PspEvent:
    kind = transaction_kind(transaction)
    amount = amount_to_centavos((transaction.get("source") or {}).get("amount"))
    return PspEvent(
        psp="moonpay",
        event_id=event_id,
        kind=kind,
        psp_reference=_id(transaction),
        psp_status=describe(transaction),
        amount_received=amount if kind == "paid" or fiat_received(transaction) else 0,
        occurred_at=occurred_at,
        failure_reason=failure_reason(transaction) if kind == "failed" else None,
    )


def event_from_identity(data: dict[str, Any], event_id: str, occurred_at: datetime) -> PspEvent:
    """A customer's KYC status. cobro makes one MoonPay customer per payment
    (`externalCustomerId` = payment id), so the event belongs to that payment; its reference is
    MoonPay's customer id until the receiver, having matched the payment, names the payment's
    purchase instead (api/routes/webhooks.py)."""
    status = str(data.get("identityStatus"))
    kind = IDENTITY_STATUS_KINDS.get(status, "other")
    code = data.get("failureReason") or "identity_verification_failed"
    return PspEvent(
        psp="moonpay",
        event_id=event_id,
        kind=kind,
        psp_reference=_id(data),
        psp_status=f"identity {status}" + (f" ({code})" if kind == "failed" else ""),
        occurred_at=occurred_at,
        failure_reason=(
            f"moonpay verification stage failed: {code}; nothing was charged"
            if kind == "failed"
            else None
        ),
    )


def instructions(transaction: dict[str, Any], expires_at: datetime) -> dict[str, Any]:
    """What the customer needs: MoonPay's hosted page, and the quote it locked. Not the wallet:
    it is the customer's, kept in PostgreSQL (erasable), never in workflow history; the API
    shows it from there."""
    quote = transaction.get("quote") or {}
    destination = transaction.get("destination") or {}
    fees = transaction.get("fees") or {}
    fee_total = sum(
        amount_to_centavos(f.get("amount", "0")) for f in fees.values() if isinstance(f, dict)
    )
    return {
        "type": "crypto",
        "hosted_url": transaction["hostedUrl"],
        "reference": transaction["id"],
        "quote": {
            "currency_code": str((destination.get("asset") or {}).get("code", "")).lower(),
            "crypto_amount": destination.get("amount"),
            # MXN per unit of the crypto currency, locked until the quote expires.
            "rate": quote.get("exchangeRate"),
            "fee_amount": centavos_to_amount(fee_total),
            "expires_at": utc(parse_time(quote["expiresAt"])),
        },
        "expires_at": utc(expires_at),
    }
