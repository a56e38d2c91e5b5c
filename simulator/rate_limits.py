"""Per-PSP rate limits (PUT /_sim/rate_limits): like the real PSPs, each simulated PSP answers
HTTP 429 once more requests than its limit arrived within the last second (a sliding second;
only requests it served count), each in its own error format. A limit of 0 answers 429 to
every request (a PSP that never lets us through).

Every API call to a PSP is also counted per wall-clock second, limited or not
(GET /_sim/calls_per_second): what a PSP would see of cobro's request rate."""

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

PSPS = ("stripe", "conekta", "stp", "moonpay", "mercadopago")

router = APIRouter(prefix="/_sim")


class Limits(BaseModel):
    """Requests per second each PSP serves; a PSP left out is not limited."""

    model_config = ConfigDict(extra="forbid")

    stripe: int | None = Field(default=None, ge=0)
    conekta: int | None = Field(default=None, ge=0)
    stp: int | None = Field(default=None, ge=0)
    moonpay: int | None = Field(default=None, ge=0)
    mercadopago: int | None = Field(default=None, ge=0)


@dataclass
class RateLimiter:
    limits: Limits = field(default_factory=Limits)
    served: dict[str, deque[float]] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PSPS, 0))
    # Per PSP, calls (served or not) and 429s by wall-clock second (int(time.time())).
    calls: dict[str, Counter[int]] = field(default_factory=dict)
    rejections: dict[str, Counter[int]] = field(default_factory=dict)

    def allow(self, psp: str) -> bool:
        """True when `psp` serves one more request now; False (counted) when it answers 429."""
        second = int(time.time())
        self.calls.setdefault(psp, Counter())[second] += 1
        limit: int | None = getattr(self.limits, psp, None)
        if limit is None:
            return True
        if limit == 0:
            self.rejected[psp] = self.rejected.get(psp, 0) + 1
            self.rejections.setdefault(psp, Counter())[second] += 1
            return False
        now = time.monotonic()
        window = self.served.setdefault(psp, deque())
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= limit:
            self.rejected[psp] = self.rejected.get(psp, 0) + 1
            self.rejections.setdefault(psp, Counter())[second] += 1
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


@router.get("/calls_per_second")
async def calls_per_second(request: Request, psp: str = "stripe", since: int = 0) -> dict[str, Any]:
    """`psp`'s API calls per wall-clock second (unix seconds) from `since` on: every call, and
    how many of them were answered 429; with the busiest second."""
    limiter = _limiter(request)
    calls = limiter.calls.get(psp, Counter())
    rejections = limiter.rejections.get(psp, Counter())
    seconds = sorted(s for s in calls if s >= since)
    return {
        "psp": psp,
        "limit": getattr(limiter.limits, psp, None),
        "max_calls_per_s": max((calls[s] for s in seconds), default=0),
        "calls": {str(s): calls[s] for s in seconds},
        "rejected_429": {str(s): rejections[s] for s in seconds if rejections[s]},
    }
