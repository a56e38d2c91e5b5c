"""Request and response bodies of the merchant API (SPEC §3)."""

from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    AnyHttpUrl,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    StrictInt,
    field_validator,
)

from cobro.domain.merchant_events import EVENT_TYPES
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import CryptoDetails, Customer
from cobro.domain.text import NO_NUL
from cobro.views import PaymentOut, RefundOut, Timestamp


def _whole_number(value: Any) -> Any:
    """JSON Schema counts 4081.0 an integer, so the API takes it as 4081; 4081.5, "4081" and
    true stay refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer as JSON Schema means it (no fraction), never a string or a boolean.
WholeInt = Annotated[StrictInt, BeforeValidator(_whole_number)]
# The event types an endpoint may subscribe to, as the schema lists them.
SUBSCRIBABLE: list[JsonValue] = [*sorted(EVENT_TYPES | {"*"})]
MetadataKey = Annotated[str, Field(max_length=40, pattern=NO_NUL)]
MetadataValue = Annotated[str, Field(max_length=500, pattern=NO_NUL)]


class CreatePaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: WholeInt = Field(gt=0, description="Integer centavos: 25000 is 250.00 MXN")
    currency: Literal["MXN"]
    method: PaymentMethod
    customer: Customer
    description: str | None = Field(default=None, max_length=1000, pattern=NO_NUL)
    metadata: dict[MetadataKey, MetadataValue] = Field(default_factory=dict)
    expires_in: WholeInt | None = Field(default=None, gt=0, description="Seconds")
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
    # Read from a payment_events row: EventOut.model_validate(event).
    model_config = ConfigDict(from_attributes=True)

    id: str
    type: str = Field(validation_alias=AliasChoices("kind", "type"))  # the row's `kind`
    from_status: str | None
    to_status: str
    at: Timestamp
    source: str
    detail: str | None
    # Money, in centavos: what this event added to the payment's received and refunded totals
    # (null: nothing), and those totals after it (null: unchanged, or an event from before
    # cobro recorded them).
    received: int | None = None
    refunded: int | None = None
    amount_received: int | None = None
    amount_refunded: int | None = None


class EventList(BaseModel):
    data: list[EventOut]


class PaymentList(BaseModel):
    data: list[PaymentOut]
    has_more: bool


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = Field(default=None, max_length=500, pattern=NO_NUL)


class RefundBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: WholeInt | None = Field(default=None, gt=0, description="Centavos; all if omitted")
    reason: str | None = Field(default=None, max_length=200, pattern=NO_NUL)


class RefundList(BaseModel):
    data: list[RefundOut]


class WebhookEndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: AnyHttpUrl = Field(
        description="Where cobro POSTs events (http or https)",
        json_schema_extra={"pattern": "^[Hh][Tt][Tt][Pp][Ss]?://[^/?#@:]"},
    )
    events: list[str] = Field(
        min_length=1,
        description='Event types, or ["*"] for all',
        json_schema_extra={"items": {"type": "string", "enum": SUBSCRIBABLE}},
    )

    @field_validator("events")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - EVENT_TYPES - {"*"})
        if unknown:
            raise ValueError(f"unknown event types {unknown}; known: {sorted(EVENT_TYPES)}")
        return value


class WebhookEndpointOut(BaseModel):
    # Read from a webhook_endpoints row: WebhookEndpointOut.model_validate(endpoint). The row
    # has only the sealed secret, so `secret` is set by the creation response alone.
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    url: str
    events: list[str]
    status: str
    disabled_reason: str | None
    created_at: Timestamp
    secret: str | None = Field(default=None, description="Only in the creation response")

    @field_validator("events", mode="before")
    @classmethod
    def _types(cls, value: Any) -> Any:
        """The row keeps {"types": [...]}."""
        return value.get("types", []) if isinstance(value, dict) else value


class WebhookEndpointList(BaseModel):
    data: list[WebhookEndpointOut]


class AttemptOut(BaseModel):
    # Read from a webhook_attempts row: AttemptOut.model_validate(attempt).
    model_config = ConfigDict(from_attributes=True)

    at: Timestamp
    status_code: int | None
    latency_ms: int
    error: str | None


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_type: str
    status: str
    attempts: list[AttemptOut]
    created_at: Timestamp


class DeliveryList(BaseModel):
    data: list[DeliveryOut]
