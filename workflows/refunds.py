"""Refunds of a payment: the PSP call, and following a refund the PSP left pending (its
webhooks, and a status check on a timer) until it succeeds or fails.

The money rules are PaymentState's: a refund's amount is reserved from the moment it is asked
for until it is final; only a succeeded refund counts as refunded; a failed one frees its amount
(late money it was returning is held for ops instead). An outcome cobro does not know (the PSP
call timed out, the PSP stayed down) is never taken for a failure: the refund stays pending and
the PSP is asked again, with the same idempotency key.

Replay. Following pending refunds is newer than some histories: it is entered only through
`workflow.patched(FOLLOW_REFUNDS)`, so a history recorded before it replays as recorded.
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro.domain.payment import (
        PspEvent,
        PspRefundRequest,
        PspRefundResult,
        RefundRecord,
        RefundRequest,
    )
    from cobro.domain.payment_state import PaymentState
    from cobro.domain.payment_steps import Step
    from cobro.domain.status import EventSource

from workflows.activity_options import PSP_TIMEOUTS, failure_reason, is_rejection
from workflows.recorder import Recorder

FOLLOW_REFUNDS = "follow-refunds"
# A refund whose creation answer never came is asked for again with the same idempotency key;
# Stripe keeps keys for at least 24 h, after which asking again could refund twice. Past this
# age it is left pending for ops (PaymentFlags `refund_outcome_unknown`).
ASK_AGAIN_FOR = timedelta(hours=20)


class PendingRefund:
    """A refund followed until the PSP says how it ended. A plain class, not a dataclass: the
    sandbox runs this module afresh for every workflow, and @dataclass compiles its methods
    from source each time (starting a PaymentWorkflow in the sandbox: 7.76 ms CPU with it,
    7.1 ms without)."""

    __slots__ = ("record", "request", "since")

    def __init__(self, record: RefundRecord, request: PspRefundRequest, since: datetime) -> None:
        self.record = record
        self.request = request  # asked again (same key) when the first answer never came
        self.since = since


class Refunds:
    def __init__(
        self,
        state: PaymentState,
        lock: asyncio.Lock,
        recorder: Recorder,
        do: Callable[[list[Step]], Awaitable[None]],
    ) -> None:
        self.state = state
        self.lock = lock
        self.recorder = recorder
        self.do = do
        self.records: dict[str, RefundRecord] = {}  # every refund of the payment, by cobro's id
        self.pending: dict[str, PendingRefund] = {}  # those followed until final
        self.poll_at: datetime | None = None
        self.poll_every = timedelta(seconds=state.payment.timings.poll_after)
        self.news = False  # a refund became pending: the main loop re-plans its wake-up

    # ---- asking the PSP ----------------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> RefundRecord:
        """Refund at the PSP (keyed by the refund id) and record it; the lock is held."""
        state = self.state
        assert state.charge is not None
        record = RefundRecord(
            refund_id=request.refund_id,
            payment_id=state.payment.payment_id,
            merchant_id=state.payment.merchant_id,
            amount=request.amount,
            status="pending",
            reason=request.reason,
            origin=request.origin,
            at=workflow.now(),
        )
        self.records[record.refund_id] = record
        await self.recorder.record_refund(record)
        psp_request = PspRefundRequest(
            psp=state.psp,
            psp_reference=state.charge.psp_reference,
            refund_id=request.refund_id,
            amount=request.amount,
            # Late money sits in the PSP customer's balance, not in the charge.
            customer_reference=(
                state.charge.customer_reference if request.origin == "late_payment" else None
            ),
        )
        state.refunds_in_flight += request.amount
        try:
            result = await workflow.execute_activity(
                api.refund_charge,
                psp_request,
                summary=f"refund {request.amount} centavos",
                **PSP_TIMEOUTS,
            )
        except ActivityError as err:
            state.refunds_in_flight -= request.amount
            if not is_rejection(err) and self._following():
                # No answer: the refund may exist at the PSP. Never released on a guess.
                return self._follow(record, psp_request)
            return await self._failed(record, failure_reason(err), request.source)
        state.refunds_in_flight -= request.amount
        record = record.model_copy(
            update={
                "status": result.status,
                "at": workflow.now(),
                "psp_reference": result.psp_reference,
            }
        )
        if result.status == "failed" and self._following():
            reason = result.failure_reason or f"{state.psp} refused the refund"
            return await self._failed(record, reason, request.source)
        self.records[record.refund_id] = record
        await self.recorder.record_refund(record)
        if result.status == "pending" and self._following():
            return self._follow(record, psp_request)
        if result.status != "succeeded":
            return record
        await self.do(state.refund_succeeded(record, request.source, workflow.now()))
        return record

    def _following(self) -> bool:
        return workflow.patched(FOLLOW_REFUNDS)

    def _follow(self, record: RefundRecord, request: PspRefundRequest) -> RefundRecord:
        """Keep the refund's amount reserved and follow it until the PSP says how it ended."""
        self.pending[record.refund_id] = PendingRefund(record, request, workflow.now())
        self.records[record.refund_id] = record
        self.state.refunds_in_flight += record.amount
        if self.poll_at is None:
            self.poll_every = timedelta(seconds=self.state.payment.timings.poll_after)
            self.poll_at = workflow.now() + self.poll_every
        self.news = True
        return record

    async def _failed(self, record: RefundRecord, reason: str, source: EventSource) -> RefundRecord:
        """The money did not go back: its amount is free again (the caller released it)."""
        state = self.state
        record = record.model_copy(
            update={"status": "failed", "failure_reason": reason, "at": workflow.now()}
        )
        self.records[record.refund_id] = record
        await self.recorder.record_refund(record)
        await self.recorder.publish(state.merchant_event("refund.failed", record.refund_id))
        if record.origin == "late_payment" and self._following():
            await self.do(state.hold_returned_money(record, reason, source, workflow.now()))
        return record

    async def _settle(self, refund_id: str, report: PspRefundResult, source: EventSource) -> None:
        """The PSP's news about a followed refund; final news ends it. The lock is held."""
        pending = self.pending[refund_id]
        reference = report.psp_reference or pending.record.psp_reference
        if report.status == "pending":
            if pending.record.psp_reference is None and reference:  # its answer, at last
                pending.record = pending.record.model_copy(
                    update={"psp_reference": reference, "at": workflow.now()}
                )
                self.records[refund_id] = pending.record
                await self.recorder.record_refund(pending.record)
            return
        del self.pending[refund_id]
        self.state.refunds_in_flight -= pending.record.amount
        if not self.pending:
            self.poll_at = None
        record = pending.record.model_copy(
            update={"psp_reference": reference, "status": report.status, "at": workflow.now()}
        )
        if report.status == "failed":
            reason = report.failure_reason or f"{self.state.psp} refund {report.psp_status}"
            await self._failed(record, reason, source)
            return
        self.records[refund_id] = record
        await self.recorder.record_refund(record)
        await self.do(self.state.refund_succeeded(record, source, workflow.now()))

    # ---- following pending refunds -----------------------------------------------------------

    async def on_event(self, event: PspEvent) -> None:
        """A PSP webhook about a refund; the lock is held."""
        report = event.refund
        if report is None:
            return
        state = self.state
        refund_id = report.refund_id if report.refund_id in self.records else None
        refund_id = refund_id or next(
            (r.refund_id for r in self.records.values() if r.psp_reference == report.psp_reference),
            None,
        )
        if refund_id in self.pending:
            assert refund_id is not None
            await self._settle(refund_id, report, event.source)
            return
        detail = f"{event.psp} {event.psp_status} ({event.event_id})"
        known = self.records.get(refund_id) if refund_id else None
        if known is None:
            ignored = f"{detail}; ignored: not a refund cobro made for this payment"
            await self.do(
                [state.record("ignored", state.current(), event.source, ignored, workflow.now())]
            )
        elif report.status not in ("pending", known.status):
            # Final at cobro but reported otherwise (Stripe: a refund can fail after it
            # succeeded). Money already announced is not taken back here: ops decide.
            mismatch = (
                f"{detail}; refund {known.refund_id} is {known.status} at cobro: left for ops"
            )
            await self.do(
                [
                    state.set_flag("refund_mismatch", True),
                    state.record(
                        "ignored", state.current(), event.source, mismatch, workflow.now()
                    ),
                ]
            )

    async def poll(self) -> None:
        """Ask the PSP about each refund still pending: a webhook (STP: its cambioEstado
        callback) may be lost."""
        for refund_id, pending in list(self.pending.items()):
            result = await self._ask_about(pending)
            if result is None:
                continue
            async with self.lock:
                if refund_id in self.pending:
                    await self._settle(refund_id, result, EventSource.PSP_POLL)
        if self.pending:
            limit = timedelta(seconds=self.state.payment.timings.poll_max_interval)
            self.poll_every = min(self.poll_every * 2, limit)
            self.poll_at = workflow.now() + self.poll_every

    async def _ask_about(self, pending: PendingRefund) -> PspRefundResult | None:
        record = pending.record
        try:
            if record.psp_reference is not None:
                return await workflow.execute_activity(
                    api.get_refund,
                    api.RefundLookup(
                        psp=pending.request.psp, refund_reference=record.psp_reference
                    ),
                    summary=f"check refund {record.psp_reference}",
                    **PSP_TIMEOUTS,
                )
            if workflow.now() - pending.since > ASK_AGAIN_FOR:
                await self.do([self.state.set_flag("refund_outcome_unknown", True)])
                return None
            # Its creation was never answered: ask again with the same key, which the PSP
            # answers with that refund (or creates it, if the first call never arrived).
            return await workflow.execute_activity(
                api.refund_charge,
                pending.request,
                summary=f"refund {record.amount} centavos (asking again)",
                **PSP_TIMEOUTS,
            )
        except ActivityError as err:
            if record.psp_reference is None and is_rejection(err):
                # Refused when asked again with the same key: the refund never happened.
                return PspRefundResult(
                    psp_reference="", status="failed", failure_reason=failure_reason(err)
                )
            workflow.logger.warning(
                "refund %s: the PSP did not answer (%s); asking again later",
                record.refund_id,
                failure_reason(err),
            )
            return None

    def waiting(self) -> str:
        """For the workflow's current details: what pending refunds wait for, until when."""
        if not self.pending or self.poll_at is None:
            return ""
        amounts = ", ".join(f"{p.record.amount}" for p in self.pending.values())
        return (
            f" Following {len(self.pending)} pending refund(s) ({amounts} centavos); "
            f"next PSP check {self.poll_at.isoformat()}."
        )
