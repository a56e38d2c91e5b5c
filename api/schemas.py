"""Request and response bodies of the merchant API (SPEC §3)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from cobro.db.models import Payment, PaymentEvent, Refund
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer

MetadataKey = Annotated[str, Field(max_length=40)]
MetadataValue = Annotated[str, Field(max_length=500)]


class CreatePaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(gt=0, description="Integer centavos: 25000 is 250.00 MXN")
    currency: Literal["MXN"]
    method: PaymentMethod
    customer: Customer
    description: str | None = Field(default=None, max_length=1000)
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)
    expires_in: StrictInt | None = Field(default=None, gt=0, description="Seconds")
    psp: str | None = None

    @field_validator("metadata")
    @classmethod
    def _at_most_50_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 50:  # Stripe's limit
            raise ValueError("metadata can have at most 50 keys")
        return value


class PaymentOut(BaseModel):
    id: str
    object: Literal["payment"] = "payment"
    status: str
    amount: int
    amount_received: int
    amount_refunded: int
    currency: str
    method: str
    psp: str
    psp_reference: str | None
    instructions: dict[str, Any] | None
    customer: dict[str, Any]
    description: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    expires_at: datetime | None
    failure_reason: str | None

    @classmethod
    def of(cls, p: Payment) -> "PaymentOut":
        return cls(
            id=p.id,
            status=p.status,
            amount=p.amount,
            amount_received=p.amount_received,
            amount_refunded=p.amount_refunded,
            currency=p.currency,
            method=p.method,
            psp=p.psp,
            psp_reference=p.psp_reference,
            instructions=p.instructions,
            customer=p.customer,
            description=p.description,
            metadata=p.metadata_,
            created_at=p.created_at,
            updated_at=p.updated_at,
            expires_at=p.expires_at,
            failure_reason=p.failure_reason,
        )


class EventOut(BaseModel):
    id: str
    type: str
    from_status: str | None
    to_status: str
    at: datetime
    source: str
    detail: str | None

    @classmethod
    def of(cls, e: PaymentEvent) -> "EventOut":
        return cls(
            id=e.id,
            type=e.kind,
            from_status=e.from_status,
            to_status=e.to_status,
            at=e.at,
            source=e.source,
            detail=e.detail,
        )


class EventList(BaseModel):
    data: list[EventOut]


class PaymentList(BaseModel):
    data: list[PaymentOut]
    has_more: bool


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500)


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: StrictInt | None = Field(default=None, gt=0, description="Centavos; all if omitted")
    reason: str | None = Field(default=None, max_length=200)


class RefundOut(BaseModel):
    id: str
    object: Literal["refund"] = "refund"
    payment_id: str
    amount: int
    status: str
    reason: str | None
    origin: str
    failure_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, r: Refund) -> "RefundOut":
        return cls(
            id=r.id,
            payment_id=r.payment_id,
            amount=r.amount,
            status=r.status,
            reason=r.reason,
            origin=r.origin,
            failure_reason=r.failure_reason,
            created_at=r.created_at,
            updated_at=r.updated_at,
        )


class RefundList(BaseModel):
    data: list[RefundOut]
