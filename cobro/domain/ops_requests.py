"""What ops send with each action on a payment (Temporal Web UI "Send Update", or
`temporal workflow update execute`): always who and why, and what the action needs."""

from typing import Literal

from pydantic import BaseModel, Field


class OpsRequest(BaseModel):
    operator: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=3, max_length=1000)


class OpsMarkPaid(OpsRequest):
    evidence: str = Field(
        min_length=3,
        max_length=1000,
        description="e.g. the SPEI clave de rastreo or the PSP dashboard link",
    )
    amount: int | None = Field(
        default=None, gt=0, description="centavos; the full amount if omitted"
    )


class OpsRetryCreation(OpsRequest):
    psp: str | None = Field(
        default=None, description="one PSP of the merchant's route; the whole route if omitted"
    )


class OpsAttachDeposit(OpsRequest):
    event_id: str = Field(
        min_length=1, max_length=255, description="the deposit from `cobro ops unmatched`"
    )


class OpsResolveLatePayment(OpsRequest):
    action: Literal["refund", "keep"]
