"""Request and response bodies of the merchant API (SPEC §3)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, StrictInt, field_validator

from cobro.db.models import PaymentEvent, WebhookEndpoint
from cobro.domain.merchant_events import EVENT_TYPES
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import CryptoDetails, Customer
from cobro.views import PaymentOut, RefundOut

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
    crypto: CryptoDetails | None = Field(
        default=None,
        description='Required for method "crypto" (and only then): the crypto to buy '
        'and the wallet it goes to, e.g. {"currency_code": "usdc", "wallet_address": "0x..."}',
    )

    @field_validator("metadata")
    @classmethod
    def _at_most_50_keys(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 50:  # Stripe's limit
            raise ValueError("metadata can have at most 50 keys")
        return value


class EventOut(BaseModel):
    id: str
    type: str
    from_status: str | None
    to_status: str
    at: datetime
    source: str
    detail: str | None
    # Money, in centavos: what this event added to the payment's received and refunded totals
    # (null: nothing), and those totals after it (null: unchanged, or an event from before
    # cobro recorded them).
    received: int | None = None
    refunded: int | None = None
    amount_received: int | None = None
    amount_refunded: int | None = None

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
            received=e.received,
            refunded=e.refunded,
            amount_received=e.amount_received,
            amount_refunded=e.amount_refunded,
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


class RefundList(BaseModel):
    data: list[RefundOut]


class WebhookEndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl = Field(description="Where cobro POSTs events (http or https)")
    events: list[str] = Field(min_length=1, description='Event types, or ["*"] for all')

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - EVENT_TYPES - {"*"})
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}")
        return value


class WebhookEndpointOut(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    events: list[str]
    status: str
    disabled_reason: str | None
    created_at: datetime
    secret: str | None = Field(default=None, description="Only in the creation response")

    @classmethod
    def of(cls, e: WebhookEndpoint, secret: str | None = None) -> "WebhookEndpointOut":
        return cls(
            id=e.id,
            url=e.url,
            events=e.events.get("types", []),
            status=e.status,
            disabled_reason=e.disabled_reason,
            created_at=e.created_at,
            secret=secret,
        )


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpointOut]


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: list[AttemptOut]
    created_at: datetime


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
