"""Data passed between the API, the payment workflow and its activities.

Pydantic models so Temporal's pydantic converter carries them, and so new optional fields can be
added without breaking recorded histories. Pure data: no I/O, safe inside the workflow sandbox.
"""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from cobro.domain.methods import PaymentMethod
from cobro.domain.status import EventSource, PaymentStatus


class Customer(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    email: str | None = Field(default=None, max_length=320)


class PaymentInput(BaseModel):
    """What the workflow needs to run one payment; fixed at creation."""

    payment_id: str
    merchant_id: str
    amount: int
    currency: str
    method: PaymentMethod
    psp: str
    customer: Customer
    description: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    expires_in: int
    # How long after expiry a late PSP confirmation still counts (OXXO and SPEI confirm late).
    grace_seconds: int = 3600


class ChargeCreated(BaseModel):
    """The PSP's charge and what the customer needs to pay it."""

    psp_reference: str
    instructions: dict[str, Any]
    expires_at: datetime


PspEventKind = Literal["paid", "partially_paid", "failed", "expired", "canceled", "other"]


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


class Transition(BaseModel):
    """One status change, written to `payments` + `payment_events`, idempotent by (payment, seq)."""

    payment_id: str
    seq: int
    from_status: PaymentStatus | None
    to_status: PaymentStatus
    at: datetime
    source: EventSource
    detail: str
    psp_reference: str | None = None
    instructions: dict[str, Any] | None = None
    expires_at: datetime | None = None
    amount_received: int | None = None
    failure_reason: str | None = None


class CreateOutcome(BaseModel):
    """What the `create` update answers: the charge's instructions, or why it failed."""

    status: PaymentStatus
    psp_reference: str | None = None
    instructions: dict[str, Any] | None = None
    expires_at: datetime | None = None
    failure_reason: str | None = None
