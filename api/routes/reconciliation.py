"""`GET /v1/reconciliation/{date}`: the merchant's share of a day's reconciliation."""

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentMerchant, SessionDep
from api.openapi_docs import merchant
from api.params import Rfc3339Date
from cobro import reconciliation

router = APIRouter(prefix="/v1/reconciliation", tags=["reconciliation"])


class ReconciliationLine(BaseModel):
    psp: str
    result: str
    line_type: str
    psp_reference: str
    payment_id: str | None
    cobro_amount: int | None
    psp_amount: int | None


class ReconciliationDay(BaseModel):
    day: date
    time_zone: str = "America/Mexico_City"
    data: list[ReconciliationLine]


@router.get("/{day}", response_model=ReconciliationDay, responses=merchant())
async def reconciliation_day(
    day: Rfc3339Date, merchant_id: CurrentMerchant, session: SessionDep
) -> ReconciliationDay:
    """Empty until the day has been reconciled (00:30 Mexico City time the next day)."""
    items = await reconciliation.items_for(session, day, merchant_id)
    return ReconciliationDay(
        day=day,
        data=[
            ReconciliationLine(
                psp=i.psp,
                result=i.result,
                line_type=i.line_type,
                psp_reference=i.psp_reference,
                payment_id=i.payment_id,
                cobro_amount=i.cobro_amount,
                psp_amount=i.psp_amount,
            )
            for i in items
        ],
    )
