"""How cobro shows its objects to merchants: API responses and webhook payloads alike."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from cobro.db.models import Payment, Refund


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
