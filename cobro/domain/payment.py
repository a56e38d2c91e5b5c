"""Data passed between the API, the payment workflow and its activities.

Pydantic models so Temporal's pydantic converter carries them, and so new optional fields can be
added without breaking recorded histories. Pure data: no I/O, safe inside the workflow sandbox.
"""

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from cobro.domain.methods import PaymentMethod
from cobro.domain.status import EventSource, PaymentStatus
from cobro.domain.text import NO_NUL

# A Mexican phone as Conekta takes `customer_info.phone` (its OpenAPI example: "5522997233"):
# the 10-digit national number, or in E.164 with +52 (the legacy mobile "+521" too, as in
# Conekta's own examples). Digits only: no spaces or dashes.
MEXICAN_PHONE = r"(\+521?)?[0-9]{10}"


class Customer(BaseModel):
    """Who pays. Every field is the customer's personal data: sealed in workflow history and
    cleared by erasure (cobro/privacy/sealing.py ERASED_CUSTOMER is derived from these fields,
    so a field added here is erased too)."""

    name: str = Field(min_length=1, max_length=200, pattern=NO_NUL)
    email: str | None = Field(default=None, max_length=320, pattern=NO_NUL)
    # Required by Conekta (Capability.needs_customer); optional for the other PSPs.
    # Checked by _mexican_phone (for its message); the pattern is shown in the OpenAPI schema.
    phone: str | None = Field(
        default=None,
        max_length=16,
        examples=["5512345678", "+525512345678"],
        json_schema_extra={"pattern": f"^{MEXICAN_PHONE}$"},
    )

    @field_validator("phone")
    @classmethod
    def _mexican_phone(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(MEXICAN_PHONE, value):
            raise ValueError(
                "phone must be a Mexican number: 10 digits (5512345678) or +52 and 10 digits "
                "(+525512345678), without spaces or dashes"
            )
        return value

    @model_serializer(mode="wrap")
    def _without_absent_phone(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """No `phone` key when there is none: a customer serialises as before the field existed,
        so an Idempotency-Key's request hash and the stored row do not change across a deploy."""
        dumped: dict[str, Any] = handler(self)
        if dumped.get("phone", "") is None:
            del dumped["phone"]
        return dumped


class Timings(BaseModel):
    """How long the workflow waits for what, in seconds; from settings, fixed at creation."""

    # A late PSP confirmation still counts this long after expiry (OXXO and SPEI confirm late).
    grace: int = 3600
    # With no news from the PSP for this long, ask it (a webhook may be lost); doubles to max.
    poll_after: int = 3600
    poll_max_interval: int = 6 * 3600
    # The workflow stays open this long after success (for refunds) and after expiry or
    # cancellation (to catch late money).
    refund_window: int = 180 * 86_400
    late_window: int = 7 * 86_400
    # How long to keep retrying a PSP that is down before failing over to the next one.
    failover_after: int = 60
    # How long a PSP may keep answering 429 (slow down) to a charge creation before it counts
    # as down and creation fails over (or fails). 0 (payments started before it existed):
    # retried for as long as it lasts.
    rate_limited_for: int = 0
    # The expiry check of a payment not paid by expiry + grace runs at a random moment up to
    # this long after that deadline, so vouchers that all expire at one minute are not all
    # checked and voided in that minute. Money that arrives after the deadline is late money
    # all the same. 0 (payments started before it existed): at the deadline.
    expiry_spread: int = 0
    # When every PSP was unavailable, the payment stays `pending` this long for ops to retry
    # creation before it fails. 0 (the default of payments started before it existed): fail.
    create_retry_window: int = 0
    # History version 3: a succeeded payment quiet this long (no event, no refund in flight)
    # continues as new into the rest of its refund window, with a short history.
    quiet_before_continuing: int = 3600


LatePaymentPolicy = Literal["refund", "hold"]

# Crypto the on-ramp may deliver, with the address format each one's network accepts (the
# patterns MoonPay publishes as each currency's `addressRegex`; an address that fails them would
# be refused by the on-ramp anyway, so cobro answers 422 before creating anything).
_EVM = r"0x[0-9a-fA-F]{40}"
CRYPTO_ADDRESS_PATTERNS: dict[str, str] = {
    "usdc": _EVM,  # USD Coin on Ethereum (ERC-20)
    "usdt": _EVM,  # Tether on Ethereum (ERC-20)
    "eth": _EVM,
    "btc": r"(bc1[02-9ac-hj-np-z]{11,71}|[13][1-9A-HJ-NP-Za-km-z]{25,34})",
    "sol": r"[1-9A-HJ-NP-Za-km-z]{32,44}",
}
CryptoCurrency = Literal["usdc", "usdt", "eth", "btc", "sol"]


class CryptoDetails(BaseModel):
    """What a crypto payment buys: which currency, delivered to which wallet."""

    model_config = ConfigDict(extra="forbid")

    currency_code: CryptoCurrency
    wallet_address: str = Field(min_length=26, max_length=100)

    @model_validator(mode="after")
    def _address_fits_the_currency(self) -> "CryptoDetails":
        pattern = CRYPTO_ADDRESS_PATTERNS[self.currency_code]
        if not re.fullmatch(pattern, self.wallet_address):
            raise ValueError(f"wallet_address is not a valid {self.currency_code} address")
        return self


class PaymentInput(BaseModel):
    """What the workflow needs to run one payment; fixed at creation."""

    payment_id: str
    merchant_id: str
    amount: int
    currency: str
    method: PaymentMethod
    # PSPs to try, in order: the next one is used when the current one is down.
    psps: list[str]
    # Who pays, and what for. Payments started before the claim check carried these in clear;
    # newer ones carry only `private`: the same details sealed under the payment's own data key
    # (cobro/privacy/sealing.py), which erasure deletes. The workflow never reads them; the
    # activity that calls the PSP reads them from PostgreSQL.
    customer: Customer | None = None
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    private: str | None = None
    expires_in: int
    timings: Timings = Field(default_factory=Timings)
    late_payment_policy: LatePaymentPolicy = "refund"
    # Crypto payments only: what to buy and where to send it (None in earlier histories).
    crypto: CryptoDetails | None = None
    # The shape of history the workflow writes, chosen at start so that a payment keeps its
    # own for life; inputs from before the field read as 1 (workflows/payment.py,
    # HISTORY_VERSION). Costs no history event, where a `workflow.patched` costs two.
    history_version: int = 1
    # Version 3: a succeeded payment continues as new into its refund window with this state
    # and nothing else (no customer data, no inbox), so a 180-day workflow keeps a short history.
    resume: "PaymentSnapshot | None" = None

    @property
    def known_customer(self) -> Customer:
        """The customer, once the activity that calls the PSP has loaded it."""
        if self.customer is None:
            raise ValueError(f"{self.payment_id}: customer details not loaded from PostgreSQL")
        return self.customer


class ChargeCreated(BaseModel):
    """The PSP's charge and what the customer needs to pay it."""

    psp_reference: str
    instructions: dict[str, Any]
    expires_at: datetime
    customer_reference: str | None = None


# "deposits": a direct SPEI provider (STP) reports only money in, as the cumulative total it
# confirmed deposited to the payment's CLABE (`amount_received`); the workflow, which knows the
# amount, decides whether that is a partial payment, success, an excess or late money.
# "refund": news about a refund (its `refund` field), not about the charge.
PspEventKind = Literal[
    "paid",
    "partially_paid",
    "processing",
    "failed",
    "expired",
    "canceled",
    "other",
    "deposits",
    "refund",
]


class PspEvent(BaseModel):
    """A PSP's report about a charge, from a webhook or a status poll, in cobro's terms."""

    psp: str
    event_id: str
    kind: PspEventKind
    psp_reference: str
    psp_status: str
    amount_received: int = 0
    occurred_at: datetime
    source: EventSource = EventSource.PSP_WEBHOOK
    # Why the charge failed, in words the merchant sees as the payment's `failure_reason`
    # (MoonPay: which stage of the purchase failed, and what became of the customer's money).
    failure_reason: str | None = None
    # kind "refund": the refund's state at the PSP (`psp_reference` is still the charge's, or the
    # PSP customer's, so the webhook finds the payment).
    refund: "PspRefundResult | None" = None


EventKind = Literal["transition", "partial_payment", "late_payment", "ignored", "failover"]


class Transition(BaseModel):
    """One status change, written to `payments` + `payment_events`, idempotent by (payment, seq)."""

    payment_id: str
    seq: int
    kind: EventKind = "transition"
    psp: str | None = None
    from_status: PaymentStatus | None
    to_status: PaymentStatus
    at: datetime
    source: EventSource
    detail: str
    psp_reference: str | None = None
    psp_customer_reference: str | None = None
    amount_refunded: int | None = None
    instructions: dict[str, Any] | None = None
    expires_at: datetime | None = None
    amount_received: int | None = None
    failure_reason: str | None = None
    # `failover` events: the PSP that failed (None in earlier histories, and for an ops retry).
    failed_psp: str | None = None
    # `late_payment` events that hold money for ops: how many centavos (the worker's
    # cobro_late_money_held metrics; None when the event holds nothing, and in earlier histories).
    late_money_held: int | None = None


class CreateOutcome(BaseModel):
    """What the `create` update answers: the charge's instructions, or why it failed."""

    status: PaymentStatus
    psp_reference: str | None = None
    instructions: dict[str, Any] | None = None
    expires_at: datetime | None = None
    failure_reason: str | None = None


class CancelRequest(BaseModel):
    source: EventSource = EventSource.API
    reason: str | None = None


class RefundRequest(BaseModel):
    refund_id: str
    amount: int
    reason: str | None = None
    origin: Literal["merchant", "late_payment", "ops"] = "merchant"
    source: EventSource = EventSource.API


RefundStatus = Literal["pending", "succeeded", "failed"]


class RefundRecord(BaseModel):
    """A refund's state, mirrored into the `refunds` table by the projection activity."""

    refund_id: str
    payment_id: str
    merchant_id: str
    amount: int
    status: RefundStatus
    reason: str | None = None
    origin: str = "merchant"
    psp_reference: str | None = None
    failure_reason: str | None = None
    at: datetime


class PspRefundRequest(BaseModel):
    psp: str
    psp_reference: str
    refund_id: str
    amount: int
    # Refund money the PSP holds for the customer (late money) rather than the charge itself.
    customer_reference: str | None = None


class PspRefundResult(BaseModel):
    """A refund's state at the PSP, mapped to cobro's statuses by the PSP's mapping module
    (which raises for a PSP status it does not know: never guessed)."""

    psp_reference: str
    status: RefundStatus
    failure_reason: str | None = None
    # cobro's refund id, when the PSP echoes it back (Stripe: the refund's metadata).
    refund_id: str | None = None
    psp_status: str | None = None


class PaymentSnapshot(BaseModel):
    """What a succeeded payment's refund window needs from the run that got it paid."""

    status: PaymentStatus
    seq: int
    psp: str
    charge: ChargeCreated
    charge_received: int
    extra_received: int
    attached_received: int
    amount_refunded: int
    held_late_money: int
    flags: list[str]
    seen_event_ids: list[str]  # money events already counted (a late duplicate must not be)
    refunds: list[RefundRecord]  # every refund so far, final (a pending one stops the move)
    close_at: datetime  # when the refund window ends
    # PSP webhooks the earlier runs took in: the workflow's psp_signals_received query counts
    # per payment, not per run (0 in snapshots taken before it was carried).
    psp_signals_received: int = 0


PspEvent.model_rebuild()
PaymentInput.model_rebuild()
