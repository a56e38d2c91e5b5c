"""How cobro shows its objects to merchants: API responses and webhook payloads alike.

Each view is read from its ORM row through pydantic (`from_attributes`):
`PaymentOut.model_validate(payment)`. Instants are written as cobro writes them everywhere,
RFC 3339 in UTC with a `Z` (cobro/domain/timestamps.py)."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PlainSerializer,
    WithJsonSchema,
    model_validator,
)

from cobro.domain.status import PAYABLE
from cobro.domain.timestamps import rfc3339_utc
from cobro.psp.moonpay import widget as moonpay_widget

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

    @model_validator(mode="wrap")
    @classmethod
    def _wallet_from_postgres(cls, row: Any, handler: ModelWrapValidatorHandler[Any]) -> Any:
        """A crypto payment's instructions show the wallet, kept in PostgreSQL only (it is the
        customer's: never in workflow history, gone once erased), and, while the payment can
        still be paid, MoonPay's widget URL, which names the wallet and so is signed here, as it
        is shown (once it cannot, a purchase there would only be late money)."""
        out = handler(row)
        crypto = getattr(row, "crypto", None)
        if out.instructions is None:
            return out
        shown = dict(out.instructions)
        widget = shown.pop("widget", None)
        if isinstance(crypto, dict):
            wallet = crypto.get("wallet_address")
            shown["wallet_address"] = wallet
            payable = out.status in PAYABLE
            if payable and isinstance(widget, dict) and isinstance(wallet, str):
                shown["hosted_url"] = moonpay_widget.customer_url(widget, wallet)
        out.instructions = shown
        return out


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
