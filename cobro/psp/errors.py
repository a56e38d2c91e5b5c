"""How PSP failures are classified: retrying helps, or it never will."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx


class PspError(Exception):
    """Base class for PSP failures."""


class PspUnavailable(PspError):
    """Timeouts, connection errors, 5xx, and 429 as the subclass PspRateLimited: retry (the
    idempotency key makes it safe)."""


class PspRateLimited(PspUnavailable):
    """HTTP 429: the PSP is up but asks us to slow down. Retry the same PSP after
    `retry_after` seconds (its Retry-After, when it sent one); never a reason to fail over."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PspRejected(PspError):
    """Validation errors and declines (4xx other than 429): retrying cannot help."""


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    date_header = response.headers.get("date")
    try:
        now = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        now = None
    if now is None:
        now = datetime.now(UTC)
    return max((moment - now).total_seconds(), 0.0)


def raise_for_unavailable(psp: str, what: str, response: httpx.Response) -> None:
    """PspRateLimited on a 429, PspUnavailable on a 5xx."""
    if response.status_code == 429:
        raise PspRateLimited(f"{psp} {what}: HTTP 429", retry_after=retry_after(response))
    if response.status_code >= 500:
        raise PspUnavailable(f"{psp} {what}: HTTP {response.status_code}")
