"""`GET /healthz`: is the database reachable, is Temporal reachable."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text

from api.deps import SessionDep, TemporalDep

router = APIRouter(tags=["health"])
CHECK_TIMEOUT_S = 2


class Health(BaseModel):
    status: str = Field(description="`ok`, or `degraded` (503) when a dependency is down")
    database: str = Field(description="`ok` or `down: <error>`")
    temporal: str = Field(description="`ok` or `down: <error>`")


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "PostgreSQL or Temporal is down."}},
)
async def healthz(session: SessionDep, temporal: TemporalDep) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        await asyncio.wait_for(session.execute(text("SELECT 1")), CHECK_TIMEOUT_S)
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "down"; the detail helps ops
        checks["database"] = f"down: {type(exc).__name__}"
    try:
        await asyncio.wait_for(temporal.service_client.check_health(), CHECK_TIMEOUT_S)
        checks["temporal"] = "ok"
    except Exception as exc:
        checks["temporal"] = f"down: {type(exc).__name__}"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status_code=200 if healthy else 503
    )
