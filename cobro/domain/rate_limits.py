"""Per-merchant rate limits of the merchant API: a token bucket per merchant and kind of request.

`create` counts the requests that make something at a PSP (a payment, a refund); `read` counts
every other authenticated request. A bucket holds at most `burst` tokens, refills at
`rate_per_s`, and each request takes one; a request that finds less than one is answered 429
with the whole seconds until one is there."""

import math
from dataclasses import dataclass
from typing import Literal

Kind = Literal["create", "read"]
KINDS: tuple[Kind, ...] = ("create", "read")


@dataclass(frozen=True)
class Limit:
    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0 and self.burst >= 1):
            raise ValueError(f"a rate limit needs rate > 0 and burst >= 1, not {self}")


def retry_after_s(level: float, rate_per_s: float) -> int:
    """Whole seconds until a bucket at `level` tokens holds one again (at least 1)."""
    return max(1, math.ceil((1 - level) / rate_per_s))
