"""`POST /v1/privacy/erasures`: a merchant erases one of its customers' personal data (LFPDPPP
cancelation). Amounts, statuses, events and refunds stay for accounting; see
cobro/db/privacy_repo.py for what goes. Recorded as who, when and why, never what."""

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from api.deps import CurrentMerchant, SessionDep
from api.openapi_docs import merchant
from api.problems import Problem
from cobro.db import privacy_repo
from cobro.domain.text import NO_NUL
from cobro.views import Timestamp

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])


class ErasureRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: str = Field(
        min_length=3, max_length=320, pattern=NO_NUL, description="the customer's email"
    )
    reason: str = Field(
        min_length=3, max_length=1000, pattern=NO_NUL, description="e.g. the customer's request"
    )


class ErasureOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    payments: int = Field(description="how many of this merchant's payments were erased")
    at: Timestamp


@router.post(
    "/erasures",
    status_code=201,
    response_model=ErasureOut,
    responses=merchant(
        {409: "`erasure-refused`: a payment of this customer is still open."}, body=True
    ),
)
async def erase_customer(
    body: ErasureRequest, merchant_id: CurrentMerchant, session: SessionDep
) -> ErasureOut:
    try:
        erasure = await privacy_repo.erase_customer(
            session, body.email, f"merchant {merchant_id}", body.reason, merchant_id=merchant_id
        )
    except privacy_repo.ErasureRefused as exc:
        raise Problem(409, f"Not erased: {exc}.", "erasure-refused") from exc
    await session.flush()
    await session.refresh(erasure)
    out = ErasureOut.model_validate(erasure)
    await session.commit()
    return out
