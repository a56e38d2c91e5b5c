"""PSP activities: create, look up, void and refund charges at whichever PSP the workflow
chose, always idempotently.

PspUnavailable (timeouts, 5xx) propagates and Temporal retries it; PspRateLimited (429) becomes a
retryable ApplicationError of type "PspRateLimited" whose next retry waits the PSP's Retry-After;
PspRejected becomes a non-retryable ApplicationError of type "PspRejected".
"""

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import timedelta
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError

from cobro.activity_api import ChargeLookup, ChargeRequest, OrphanLookup, RefundLookup
from cobro.business_metrics import BusinessMetrics
from cobro.db import payments_repo
from cobro.domain.payment import (
    ChargeCreated,
    PaymentInput,
    PspEvent,
    PspRefundRequest,
    PspRefundResult,
)
from cobro.psp.adapter import PspAdapter, RefundFollower
from cobro.psp.errors import PspRateLimited, PspRejected

T = TypeVar("T")


async def _heartbeating(call: Awaitable[T]) -> T:
    """Heartbeat while the PSP call runs, so a worker that dies mid-call is noticed within the
    heartbeat timeout and the call is retried, not mistaken for the PSP being down. (Run as a
    local activity there is nothing to do: a dead worker's workflow task is retried.)"""
    if activity.info().is_local:
        return await call
    task = asyncio.ensure_future(call)
    while not task.done():
        activity.heartbeat()
        await asyncio.wait({task}, timeout=1)
    return task.result()


async def _rejections_are_final(call: Awaitable[T]) -> T:
    try:
        return await call
    except PspRejected as exc:
        raise ApplicationError(str(exc), type="PspRejected", non_retryable=True) from exc
    except PspRateLimited as exc:  # "slow down", not an outage: the workflow never fails over
        delay = None if exc.retry_after is None else timedelta(seconds=exc.retry_after)
        raise ApplicationError(str(exc), type="PspRateLimited", next_retry_delay=delay) from exc


class PspActivities:
    """Each PSP call is timed, and its failures counted, by PSP and operation
    (cobro_psp_request_duration_seconds, cobro_psp_request_errors_total)."""

    def __init__(
        self,
        adapters: Mapping[str, PspAdapter],
        sessions: async_sessionmaker[AsyncSession],
        metrics: BusinessMetrics | None = None,
    ) -> None:
        self._adapters = adapters
        self._sessions = sessions
        self._metrics = metrics or BusinessMetrics()

    def _adapter(self, psp: str) -> PspAdapter:
        adapter = self._adapters.get(psp)
        if adapter is None:
            raise ApplicationError(
                f"no adapter for PSP {psp!r}", type="PspRejected", non_retryable=True
            )
        return adapter

    @activity.defn(name="create_charge")
    async def create_charge(self, request: ChargeRequest) -> ChargeCreated:
        # Idempotent on the payment id: when an earlier attempt timed out with its outcome
        # unknown, this call returns that charge instead of making another.
        payment = await self._with_customer(request.payment)
        return await _rejections_are_final(
            _heartbeating(
                self._metrics.psp_call(
                    request.psp,
                    "create_charge",
                    self._adapter(request.psp).create_charge(payment, request.expires_at),
                )
            )
        )

    async def _with_customer(self, payment: PaymentInput) -> PaymentInput:
        """The claim check: who pays and what for is read from PostgreSQL, so workflow history
        carries none of it (payments started before it carried it in their input)."""
        if payment.customer is not None:
            return payment
        async with self._sessions() as session:
            details = await payments_repo.customer_details(session, payment.payment_id)
        if details is None:
            raise ApplicationError(
                f"{payment.payment_id}: its customer's details were erased before the PSP "
                "charge was created",
                type="PspRejected",
                non_retryable=True,
            )
        return payment.model_copy(update=details)

    @activity.defn(name="get_charge")
    async def get_charge(self, lookup: ChargeLookup) -> PspEvent:
        """The charge's current state at the PSP, for when no webhook came."""
        return await _rejections_are_final(
            self._metrics.psp_call(
                lookup.psp, "get_charge", self._adapter(lookup.psp).get_charge(lookup.psp_reference)
            )
        )

    @activity.defn(name="cancel_charge")
    async def cancel_charge(self, lookup: ChargeLookup) -> None:
        """Void the voucher / CLABE at the PSP; rejected when it was paid meanwhile."""
        adapter = self._adapter(lookup.psp)
        await _rejections_are_final(
            self._metrics.psp_call(
                lookup.psp, "cancel_charge", adapter.cancel_charge(lookup.psp_reference)
            )
        )

    @activity.defn(name="refund_charge")
    async def refund_charge(self, request: PspRefundRequest) -> PspRefundResult:
        refund = self._adapter(request.psp).refund(
            request.psp_reference, request.refund_id, request.amount, request.customer_reference
        )
        return await _rejections_are_final(self._metrics.psp_call(request.psp, "refund", refund))

    @activity.defn(name="get_refund")
    async def get_refund(self, lookup: RefundLookup) -> PspRefundResult:
        """A pending refund's state at the PSP, for when no webhook settled it."""
        adapter = self._adapter(lookup.psp)
        if not isinstance(adapter, RefundFollower):
            raise ApplicationError(
                f"{lookup.psp} refunds cannot be looked up", type="PspRejected", non_retryable=True
            )
        return await _rejections_are_final(
            self._metrics.psp_call(
                lookup.psp, "get_refund", adapter.get_refund(lookup.refund_reference)
            )
        )

    @activity.defn(name="void_orphan_charges")
    async def void_orphan_charges(self, lookup: OrphanLookup) -> list[str]:
        """After failing over, make sure the PSP we left holds no live charge for the payment
        (a create whose answer was lost may have made one). Returns what it voided."""
        adapter = self._adapter(lookup.psp)
        references = await _rejections_are_final(
            self._metrics.psp_call(
                lookup.psp, "find_charges", adapter.find_charges(lookup.payment_id)
            )
        )
        for reference in references:
            await _rejections_are_final(
                self._metrics.psp_call(
                    lookup.psp, "cancel_charge", adapter.cancel_charge(reference)
                )
            )
        return references
