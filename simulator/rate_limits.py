"""Per-PSP rate limits (PUT /_sim/rate_limits): like the real PSPs, each simulated PSP answers
HTTP 429 once more requests than its limit arrived within the last second (a sliding second;
only requests it served count), each in its own error format."""

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

PSPS = ("stripe", "conekta", "stp", "moonpay", "mercadopago")

router = APIRouter(prefix="/_sim")


class Limits(BaseModel):
    """Requests per second each PSP serves; a PSP left out is not limited."""

    model_config = ConfigDict(extra="forbid")

    stripe: int | None = Field(default=None, ge=1)
    conekta: int | None = Field(default=None, ge=1)
    stp: int | None = Field(default=None, ge=1)
    moonpay: int | None = Field(default=None, ge=1)
    mercadopago: int | None = Field(default=None, ge=1)


@dataclass
class RateLimiter:
    limits: Limits = field(default_factory=Limits)
    served: dict[str, deque[float]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PSPS, 0))

    def allow(self, psp: str) -> bool:
        """True when `psp` serves one more request now; False (counted) when it answers 429."""
        limit: int | None = getattr(self.limits, psp, None)
        if limit is None:
            return True
        now = time.monotonic()
        window = self.served.setdefault(psp, deque())
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= limit:
            self.rejected[psp] = self.rejected.get(psp, 0) + 1
            return False
        window.append(now)
        return True

    def report(self) -> dict[str, Any]:
        return {"limits": self.limits.model_dump(), "rejected_429": dict(self.rejected)}


def _limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.sim.rate_limits
    return limiter


@router.put("/rate_limits")
async def set_rate_limits(limits: Limits, request: Request) -> dict[str, Any]:
    """Replace every PSP's limit (requests per second; absent: unlimited). The 429 counts stay
    until `POST /_sim/reset`."""
    limiter = _limiter(request)
    limiter.limits = limits
    limiter.served.clear()
    return limiter.report()


@router.get("/rate_limits")
async def get_rate_limits(request: Request) -> dict[str, Any]:
    """The limits, and how many requests each PSP answered with 429 (`rejected_429`)."""
    return _limiter(request).report()
