"""Tables. Money is BIGINT centavos; every timestamp is timestamptz stored in UTC."""

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, get_args

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cobro.domain.ids import new_id
from cobro.domain.payment import EventKind, RefundStatus
from cobro.domain.status import EventSource, PaymentStatus

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, values: Iterable[str]) -> str:
    """A CHECK expression: `column` holds one of `values` (NULL passes, as in every CHECK).

    The allowed sets come from cobro's own types, so a value the code can write is a value the
    database accepts; migration 0008 freezes the same lists (tests/db checks that they agree)."""
    allowed = ", ".join(f"'{v}'" for v in values)
    return f"{column} IN ({allowed})"


PAYMENT_STATUSES = [s.value for s in PaymentStatus]
EVENT_KINDS = list(get_args(EventKind))
EVENT_SOURCES = [s.value for s in EventSource]
REFUND_STATUSES = list(get_args(RefundStatus))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSONB}


def _now() -> Mapped[datetime]:
    return mapped_column(server_default=func.now())


class Merchant(Base):
    __tablename__ = "merchants"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # What happens to money that arrives after a payment expired or was canceled:
    # "refund" (automatically, where the method allows) or "hold" (for ops to resolve).
    late_payment_policy: Mapped[str] = mapped_column(String(16), server_default="refund")
    # Per-method PSP order, e.g. {"oxxo": ["conekta", "stripe"]}; empty: cobro's defaults.
    routes: Mapped[dict[str, Any]] = mapped_column(server_default=text("'{}'::jsonb"))
    # Rate limits of this merchant's API requests (token buckets, cobro/db/request_gate.py);
    # NULL: the defaults in settings (COBRO_CREATE_RATE_PER_S, ...).
    create_rate_per_s: Mapped[float | None] = mapped_column(Double)
    create_burst: Mapped[int | None] = mapped_column(Integer)
    read_rate_per_s: Mapped[float | None] = mapped_column(Double)
    read_burst: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()

    __table_args__ = tuple(
        CheckConstraint(f"{column} > 0", name=f"{column}_positive")
        for column in ("create_rate_per_s", "create_burst", "read_rate_per_s", "read_burst")
    )


class ApiKey(Base):
    """Only the SHA-256 of a key is stored; the key itself is shown once, at creation."""

    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True, default=lambda: new_id("key"))
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    key_prefix: Mapped[str] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = _now()
    last_used_at: Mapped[datetime | None]  # to the minute: written at most once a minute
    revoked_at: Mapped[datetime | None]  # refused from the moment this commits


class RateBucket(Base):
    """A merchant's token bucket, shared by every API process. UNLOGGED: taking a token writes
    no WAL, so it commits without waiting for a disk flush; a crash empties the table, which
    only refills every bucket."""

    __tablename__ = "rate_buckets"
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # "create" or "read"
    tokens: Mapped[float] = mapped_column(Double)
    at: Mapped[datetime]  # when `tokens` was counted
    rate_per_s: Mapped[float] = mapped_column(Double)  # the limit in force at `at`
    burst: Mapped[int] = mapped_column(Integer)
    took: Mapped[bool]  # whether the last request got a token (what the statement answers)
    __table_args__ = {"prefixes": ["UNLOGGED"]}


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    status: Mapped[str] = mapped_column(String(32))
    amount: Mapped[int] = mapped_column(BigInteger)
    amount_received: Mapped[int] = mapped_column(BigInteger, server_default="0")
    amount_refunded: Mapped[int] = mapped_column(BigInteger, server_default="0")
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(16))
    psp: Mapped[str] = mapped_column(String(32))
    psp_reference: Mapped[str | None] = mapped_column(String(255))
    # The PSP's customer object, when the PSP reports money against the customer (Stripe cash
    # balance) rather than against the charge.
    psp_customer_reference: Mapped[str | None] = mapped_column(String(255), index=True)
    instructions: Mapped[dict[str, Any] | None]
    customer: Mapped[dict[str, Any]]
    description: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata")
    # Crypto payments: the currency and the wallet it goes to (read by the activity that calls
    # the PSP, never carried in workflow history; erased with the customer).
    crypto: Mapped[dict[str, Any] | None]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("psp", "psp_reference", name="uq_payments_psp_reference"),
        # Newest-first listing per merchant with a stable cursor.
        Index("ix_payments_merchant_created", "merchant_id", "created_at", "id"),
        Index("ix_payments_merchant_status_created", "merchant_id", "status", "created_at", "id"),
        # The API's metrics: payments in `processing` and the oldest of them, on every scrape.
        Index(
            "ix_payments_processing_updated",
            "updated_at",
            postgresql_where=text("status = 'processing'"),
        ),
        # The database guards money too: whatever the code does, these never hold.
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("amount_received >= 0", name="amount_received_not_negative"),
        CheckConstraint("amount_refunded >= 0", name="amount_refunded_not_negative"),
        CheckConstraint("amount_refunded <= amount_received", name="refunded_within_received"),
        CheckConstraint(one_of("status", PAYMENT_STATUSES), name="status_allowed"),
    )


class PaymentEvent(Base):
    """The transition log: one row per status change, written idempotently by (payment, seq)."""

    __tablename__ = "payment_events"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    seq: Mapped[int] = mapped_column(Integer)
    # "transition", or a non-moving record: "partial_payment", "late_payment", "ignored".
    kind: Mapped[str] = mapped_column(String(32), server_default="transition")
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(32))
    # The cause, in words; the money and the PSP are in the columns below, never parsed from it.
    detail: Mapped[str | None] = mapped_column(Text)
    # The payment's totals after this event, where the event states them (NULL: unchanged, or
    # recorded before migration 0008).
    amount_received: Mapped[int | None] = mapped_column(BigInteger)
    amount_refunded: Mapped[int | None] = mapped_column(BigInteger)
    # Centavos this event added to those totals: money in (a partial, full, late or excess
    # payment), money refunded. NULL when it moved none.
    received: Mapped[int | None] = mapped_column(BigInteger)
    refunded: Mapped[int | None] = mapped_column(BigInteger)
    # `failover` events: the PSP that failed (NULL for an ops retry, where none did).
    failed_psp: Mapped[str | None] = mapped_column(String(32))

    __table_args__ = (
        # A payment's log in order (GET /v1/payments/{id}/events) reads this index too.
        UniqueConstraint("payment_id", "seq", name="uq_payment_events_seq"),
        # By time: reconciliation (succeeded transitions of a day), `cobro ops psp-health`
        # (failovers since). Not partial: kind and status arrive as bind parameters, which a
        # generic prepared-statement plan could not match against a partial index's predicate.
        Index("ix_payment_events_kind_status_at", "kind", "to_status", "at"),
        CheckConstraint(one_of("kind", EVENT_KINDS), name="kind_allowed"),
        CheckConstraint(one_of("from_status", PAYMENT_STATUSES), name="from_status_allowed"),
        CheckConstraint(one_of("to_status", PAYMENT_STATUSES), name="to_status_allowed"),
        CheckConstraint(one_of("source", EVENT_SOURCES), name="source_allowed"),
        CheckConstraint("amount_received >= 0", name="amount_received_not_negative"),
        CheckConstraint("amount_refunded >= 0", name="amount_refunded_not_negative"),
        CheckConstraint("received > 0", name="received_positive"),
        CheckConstraint("refunded > 0", name="refunded_positive"),
    )


class WebhookInbox(Base):
    """Every PSP webhook, stored byte-exact before anything acts on it; (psp, event_id) dedupes.

    `raw_body` is what arrived; `event` is what the payment's workflow may receive, set only once
    the event is verified and in its final form (STP deposits: after STP's own order query
    confirms them). Only rows with an `event` are ever forwarded.
    """

    __tablename__ = "psp_webhook_inbox"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    psp: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    psp_reference: Mapped[str | None] = mapped_column(String(255))
    raw_body: Mapped[bytes] = mapped_column(LargeBinary)
    # The verified event in cobro's terms (PspEvent), final: forwarded as it is, as often as needed.
    event: Mapped[dict[str, Any] | None] = mapped_column(JSONB(none_as_null=True))
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    received_at: Mapped[datetime] = _now()
    forwarded_at: Mapped[datetime | None]
    # Events the PSP must confirm first (STP): when to ask next, how often it was asked.
    confirm_after: Mapped[datetime | None]
    confirm_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    # Why the event will never be forwarded (the PSP denies it); kept for ops.
    rejected_reason: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        UniqueConstraint("psp", "event_id", name="uq_psp_webhook_inbox_event"),
        # `cobro ops unmatched`: events no payment claimed.
        Index(
            "ix_psp_webhook_inbox_unmatched",
            "received_at",
            postgresql_where=text("payment_id IS NULL"),
        ),
        # The forwarder's sweep (every 2 s, one API process at a time): what is still to forward.
        Index(
            "ix_psp_webhook_inbox_pending",
            "id",
            postgresql_where=text(
                "payment_id IS NOT NULL AND forwarded_at IS NULL AND rejected_reason IS NULL"
            ),
        ),
    )


class Refund(Base):
    __tablename__ = "refunds"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    # "merchant" (POST /refunds), "late_payment" (automatic), "ops"
    origin: Mapped[str] = mapped_column(String(16), server_default="merchant")
    psp_reference: Mapped[str | None] = mapped_column(String(255))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("merchant_id", "idempotency_key", name="uq_refunds_idempotency_key"),
        # Reconciliation: refunds that completed during a day.
        Index("ix_refunds_status_updated", "status", "updated_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(one_of("status", REFUND_STATUSES), name="status_allowed"),
    )


class PaymentKey(Base):
    """A payment's data key (sealed with COBRO_SECRET_KEY): the customer's details in Temporal
    history are encrypted under it, so deleting it (erasure) makes them unrecoverable there."""

    __tablename__ = "payment_keys"
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    key_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class PrivacyErasure(Base):
    """Who erased customer data, when and why; never what was erased."""

    __tablename__ = "privacy_erasures"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"))  # None: ops
    requested_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    payments: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = _now()


class IdempotencyKey(Base):
    """A merchant's Idempotency-Key, bound to the request body it first came with."""

    __tablename__ = "idempotency_keys"
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"))
    created_at: Mapped[datetime] = _now()


class WebhookEndpoint(Base):
    """A merchant's URL for cobro's outgoing webhooks. Its signing secret is stored encrypted
    (it is needed in clear to sign) and shown to the merchant once."""

    __tablename__ = "webhook_endpoints"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    events: Mapped[dict[str, Any]]  # {"types": [...]}; ["*"] means all
    secret_encrypted: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), server_default="enabled")
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _now()


class MerchantEvent(Base):
    """What cobro tells merchants: one row per event, whatever the number of endpoints."""

    __tablename__ = "merchant_events"
    id: Mapped[str] = mapped_column(String(80), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(ForeignKey("merchants.id"))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class WebhookDelivery(Base):
    """One event for one endpoint; its id is the Standard Webhooks `webhook-id`."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    endpoint_id: Mapped[str] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(ForeignKey("merchant_events.id"))
    status: Mapped[str] = mapped_column(String(16), server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()

    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_endpoint_created", "endpoint_id", "created_at"),
        # An event's deliveries (every publish reads them); the unique key above leads with
        # the endpoint, so it cannot serve this.
        Index("ix_webhook_deliveries_event_id", "event_id"),
    )


class WebhookAttempt(Base):
    """Every HTTP attempt of a delivery: status code (or error) and latency."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id"), index=True)
    at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)


class ReconciliationItem(Base):
    """One line of a day's reconciliation: cobro's record and the PSP's report, compared."""

    __tablename__ = "reconciliation_items"
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)  # the Mexico City business day
    psp: Mapped[str] = mapped_column(String(32))
    # matched | amount_mismatch | missing_at_psp | missing_in_cobro
    result: Mapped[str] = mapped_column(String(20))
    line_type: Mapped[str] = mapped_column(String(16))  # charge | refund
    psp_reference: Mapped[str] = mapped_column(String(255))
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    merchant_id: Mapped[str | None] = mapped_column(ForeignKey("merchants.id"))
    cobro_amount: Mapped[int | None] = mapped_column(BigInteger)
    psp_amount: Mapped[int | None] = mapped_column(BigInteger)
    reconciled_at: Mapped[datetime]

    __table_args__ = (Index("ix_reconciliation_items_day_merchant", "day", "merchant_id"),)
