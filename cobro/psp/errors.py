"""How PSP failures are classified: retrying helps, or it never will."""


class PspError(Exception):
    """Base class for PSP failures."""


class PspUnavailable(PspError):
    """Timeouts, connection errors, 5xx and 429: retry (the idempotency key makes it safe)."""


class PspRejected(PspError):
    """Validation errors and declines (4xx other than 429): retrying cannot help."""
