"""Reading an activity's failure: a regular activity's arrives as an ActivityError around its
cause; a local activity's arrives as the cause itself."""

from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import TimeoutError as ActivityTimeout

ACTIVITY_FAILURES = (ActivityError, ApplicationError, ActivityTimeout)


def cause_of(err: BaseException) -> BaseException:
    return err.cause or err if isinstance(err, ActivityError) else err


def failure_reason(err: BaseException) -> str:
    return str(cause_of(err))


def is_rejection(err: BaseException) -> bool:
    """The PSP refused (PspRejected): retrying or failing over would not change its answer."""
    cause = cause_of(err)
    return isinstance(cause, ApplicationError) and cause.type == "PspRejected"
