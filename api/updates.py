"""Calling a payment workflow's updates and turning their refusals into HTTP problems."""

from collections.abc import Awaitable
from typing import TypeVar

from temporalio.client import WorkflowUpdateFailedError, WorkflowUpdateRPCTimeoutOrCancelledError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.problems import Problem

T = TypeVar("T")

# ApplicationError types raised by PaymentWorkflow's validators and handlers.
STATUS_BY_TYPE = {
    "NotCancelable": 409,
    "InvalidState": 409,
    "NotRefundable": 422,
    "AmountTooLarge": 422,
    "PspRejected": 502,
}


class UpdateRefused(Problem):
    """The workflow refused the update; the API may have to undo what it stored first."""


async def call_update(update: Awaitable[T]) -> T:
    try:
        return await update
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in STATUS_BY_TYPE:
            slug = "".join(f"-{c.lower()}" if c.isupper() else c for c in cause.type).strip("-")
            raise UpdateRefused(STATUS_BY_TYPE[cause.type], cause.message, slug) from exc
        raise
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:  # the workflow has closed
            raise UpdateRefused(
                409,
                "This payment no longer accepts changes: its workflow "
                "closed at the end of its refund or late-payment window.",
                "payment-closed",
            ) from exc
        raise Problem(
            503,
            "Temporal is unavailable; retry shortly.",
            "temporal-unavailable",
            headers={"Retry-After": "2"},
        ) from exc
    except WorkflowUpdateRPCTimeoutOrCancelledError as exc:
        raise Problem(
            503,
            "The payment did not answer in time; retry with the same request.",
            "update-timeout",
            headers={"Retry-After": "2"},
        ) from exc
