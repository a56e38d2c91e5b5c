"""How the payment workflow calls activities: retry policies and timeouts, and how to read an
activity's failure (a regular activity's arrives as an ActivityError around its cause; a local
activity's arrives as the cause itself)."""

from datetime import timedelta
from typing import Any

from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

ACTIVITY_FAILURES = (ActivityError, ApplicationError, ActivityTimeout)

# A PSP call: retried with backoff, except what the PSP refused (retrying cannot change it).
PSP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["PspRejected"],
)
PSP_TIMEOUTS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": PSP_RETRY,
}
# The same call on a PSP's rate-limited task queue (history version 4): at the 23:59 expiry herd
# a call can wait its turn there for a long time, and that wait counts against
# schedule-to-close.
PSP_QUEUE_TIMEOUTS: dict[str, Any] = {
    **PSP_TIMEOUTS,
    "schedule_to_close_timeout": timedelta(hours=2),
}
# Writing the projection must eventually succeed; PostgreSQL may be down for a while.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


def cause_of(err: BaseException) -> BaseException:
    return err.cause or err if isinstance(err, ActivityError) else err


def failure_reason(err: BaseException) -> str:
    return str(cause_of(err))


def is_rejection(err: BaseException) -> bool:
    """The PSP refused (PspRejected): retrying or failing over would not change its answer."""
    cause = cause_of(err)
    return isinstance(cause, ApplicationError) and cause.type == "PspRejected"


def rate_limit_delay(err: BaseException) -> timedelta | None:
    """When the PSP answered 429 (PspRateLimited: it is up, and asks us to slow down), how long
    to wait before the next call: its Retry-After, or zero when it named none (the caller backs
    off); None for any other failure."""
    cause = cause_of(err)
    if isinstance(cause, ApplicationError) and cause.type == "PspRateLimited":
        return cause.next_retry_delay or timedelta(0)
    return None
