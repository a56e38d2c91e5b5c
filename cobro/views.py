"""How cobro shows its objects to merchants: API responses and webhook payloads alike.

Each view is read from its ORM row through pydantic (`from_attributes`):
`PaymentOut.model_validate(payment)`. Instants are written as cobro writes them everywhere,
RFC 3339 in UTC with a `Z` (cobro/domain/timestamps.py)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from cobro.domain.timestamps import rfc3339_utc

# A datetime in JSON as `2026-11-26T18:04:05.123456Z`; its JSON schema stays a date-time.
Timestamp = Annotated[
    datetime,
    PlainSerializer(rfc3339_utc, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class PaymentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

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
    # The row's attribute is `metadata_` (SQLAlchemy keeps `metadata` for the table's).
    metadata: dict[str, Any] = Field(validation_alias=AliasChoices("metadata_", "metadata"))
    created_at: Timestamp
    updated_at: Timestamp
    expires_at: Timestamp | None
    failure_reason: str | None


class RefundOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    object: Literal["refund"] = "refund"
    payment_id: str
    amount: int
    status: str
    reason: str | None
    origin: str
    failure_reason: str | None
    created_at: Timestamp
    updated_at: Timestamp
