"""Refunds of a payment: the `refund` update, the PSP call, and following a refund the PSP left
pending (its webhooks, and a status check on a timer) until it succeeds or fails. Mixed into
PaymentWorkflow.

Money rules. A refund's amount is reserved from the moment it is asked for until the refund is
final, so the refunds of a payment never exceed what it received. Only a succeeded refund counts
in `amount_refunded`. A failed one (the PSP refused it, or it failed or was canceled later)
frees its amount, which can then be refunded again; if it was returning late money, that money
is held for ops instead. An outcome cobro does not know (the PSP call timed out, the PSP stayed
down) is never taken for a failure: the refund stays pending and the PSP is asked again.

Replay. Following pending refunds is newer than some histories: it is entered only through
`workflow.patched(FOLLOW_REFUNDS)`, so a history recorded before it replays as recorded.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.psp import PspActivities, RefundLookup
    from cobro.domain.lifecycle import Event, decide
    from cobro.domain.payment import (
        ChargeCreated,
        PspEvent,
        PspRefundRequest,
        PspRefundResult,
        RefundRecord,
        RefundRequest,
    )
    from cobro.domain.routing import can_refund
    from cobro.domain.status import EventSource, PaymentStatus
    from workflows.activity_failures import failure_reason, is_rejection
    from workflows.payment_creation import PSP_RETRY
    from workflows.payment_records import PaymentRecords

S = PaymentStatus
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})
FOLLOW_REFUNDS = "follow-refunds"
PSP_TIMEOUTS: dict[str, Any] = {
    "start_to_close_timeout": timedelta(seconds=30),
    "schedule_to_close_timeout": timedelta(minutes=10),
    "retry_policy": PSP_RETRY,
}
# A refund whose creation answer never came is asked for again with the same idempotency key;
# Stripe keeps keys for at least 24 h, after which asking again could refund twice. Past this
# age it is left pending for ops (PaymentFlags `refund_outcome_unknown`).
ASK_AGAIN_FOR = timedelta(hours=20)


def _rejected(message: str, type_: str) -> ApplicationError:
    return ApplicationError(message, type=type_, non_retryable=True)


@dataclass
class PendingRefund:
    record: RefundRecord
    request: PspRefundRequest  # asked again (same key) when the first answer never came
    since: datetime


class PaymentRefunds(PaymentRecords):
    # Set by PaymentWorkflow.__init__.
    charge: ChargeCreated | None
    psp: str
    amount_refunded: int
    refunds_in_flight: int  # reserved: refunds asked for and not final yet
    held_late_money: int
    refunds: dict[str, RefundRecord]  # every refund of the payment, by cobro's id
    pending_refunds: dict[str, PendingRefund]  # those followed until final
    refund_poll_at: datetime | None
    refund_poll_every: timedelta
    refund_news: bool  # a refund became pending: the main loop re-plans its wake-up

    @property
    def amount_received(self) -> int:
        raise NotImplementedError

    # ---- the update ------------------------------------------------------------------------

    @workflow.update
    async def refund(self, request: RefundRequest) -> RefundRecord:
        async with self.lock:
            self._check_refund(request)
            return await self._refund(request)

    @refund.validator
    def _validate_refund(self, request: RefundRequest) -> None:
        self._check_refund(request)

    def _check_refund(self, request: RefundRequest) -> None:
        payment = self.payment
        if not can_refund(self.psp, payment.method):
            raise _rejected(
                f"{self.psp} cannot refund {payment.method} payments: the money "
                f"can only be returned outside cobro.",
                "NotRefundable",
            )
        if self.status not in REFUNDABLE:
            raise _rejected(
                f"Only a succeeded payment can be refunded; this one is {self.status}.",
                "InvalidState",
            )
        refundable = self.amount_received - self.amount_refunded - self.refunds_in_flight
        if request.amount > refundable:
            raise _rejected(
                f"At most {refundable} centavos can still be refunded; asked for {request.amount}.",
                "AmountTooLarge",
            )

    # ---- asking the PSP ----------------------------------------------------------------------

    async def _refund(self, request: RefundRequest) -> RefundRecord:
        """Refund at the PSP (keyed by the refund id) and record it; the lock is held."""
        assert self.charge is not None
        record = RefundRecord(
            refund_id=request.refund_id,
            payment_id=self.payment.payment_id,
            merchant_id=self.payment.merchant_id,
            amount=request.amount,
            status="pending",
            reason=request.reason,
            origin=request.origin,
            at=workflow.now(),
        )
        self.refunds[record.refund_id] = record
        await self._record_refund(record)
        psp_request = PspRefundRequest(
            psp=self.psp,
            psp_reference=self.charge.psp_reference,
            refund_id=request.refund_id,
            amount=request.amount,
            # Late money sits in the PSP customer's balance, not in the charge.
            customer_reference=(
                self.charge.customer_reference if request.origin == "late_payment" else None
            ),
        )
        self.refunds_in_flight += request.amount
        try:
            result: PspRefundResult = await workflow.execute_activity_method(
                PspActivities.refund_charge,
                psp_request,
                summary=f"refund {request.amount} centavos",
                **PSP_TIMEOUTS,
            )
        except ActivityError as err:
            self.refunds_in_flight -= request.amount
            if not is_rejection(err) and self._following():
                # No answer: the refund may exist at the PSP. Never released on a guess.
                return self._follow(record, psp_request)
            return await self._refund_failed(record, failure_reason(err), request.source)
        self.refunds_in_flight -= request.amount
        record = record.model_copy(
            update={
                "status": result.status,
                "at": workflow.now(),
                "psp_reference": result.psp_reference,
            }
        )
        if result.status == "failed" and self._following():
            return await self._refund_failed(
                record, result.failure_reason or f"{self.psp} refused the refund", request.source
            )
        self.refunds[record.refund_id] = record
        await self._record_refund(record)
        if result.status == "pending" and self._following():
            return self._follow(record, psp_request)
        if result.status != "succeeded":
            return record
        return await self._refund_succeeded(record, request.source)

    def _following(self) -> bool:
        return workflow.patched(FOLLOW_REFUNDS)

    def _follow(self, record: RefundRecord, request: PspRefundRequest) -> RefundRecord:
        """Keep the refund's amount reserved and follow it until the PSP says how it ended."""
        self.pending_refunds[record.refund_id] = PendingRefund(record, request, workflow.now())
        self.refunds[record.refund_id] = record
        self.refunds_in_flight += record.amount
        if self.refund_poll_at is None:
            self.refund_poll_every = timedelta(seconds=self.payment.timings.poll_after)
            self.refund_poll_at = workflow.now() + self.refund_poll_every
        self.refund_news = True
        return record

    # ---- how a refund ends -----------------------------------------------------------------

    async def _refund_succeeded(self, record: RefundRecord, source: EventSource) -> RefundRecord:
        """The money went back (the refund row says so already): tell the merchant, count it."""
        await self._publish("refund.succeeded", record.refund_id)
        self.amount_refunded += record.amount
        detail = f"refund {record.refund_id} of {record.amount} centavos ({record.origin})"
        if record.origin != "late_payment" and self.status in REFUNDABLE:
            decision = decide(
                self._current(),
                Event.REFUND_SUCCEEDED,
                fully_refunded=self.amount_refunded >= self.amount_received,
            )
            await self._record_decision(
                decision, source, detail, amount_refunded=self.amount_refunded
            )
        else:  # returning late or excess money leaves the payment's status where it is
            await self._write(
                "late_payment",
                self._current(),
                source,
                detail,
                amount_refunded=self.amount_refunded,
            )
        return record

    async def _refund_failed(
        self, record: RefundRecord, reason: str, source: EventSource
    ) -> RefundRecord:
        """The money did not go back: its amount is free again (the caller released it)."""
        record = record.model_copy(
            update={"status": "failed", "failure_reason": reason, "at": workflow.now()}
        )
        self.refunds[record.refund_id] = record
        await self._record_refund(record)
        await self._publish("refund.failed", record.refund_id)
        if record.origin == "late_payment" and self._following():
            # The late money it was returning is still here: held for ops, never forgotten.
            self.held_late_money += record.amount
            self._set_flag("late_payment_held", True)
            await self._write(
                "late_payment",
                self._current(),
                source,
                f"refund {record.refund_id} of {record.amount} centavos failed ({reason}); "
                f"the money is held for ops",
            )
        return record

    async def _settle_refund(
        self, refund_id: str, report: PspRefundResult, source: EventSource
    ) -> None:
        """The PSP's news about a followed refund; final news ends it. The lock is held."""
        pending = self.pending_refunds[refund_id]
        reference = report.psp_reference or pending.record.psp_reference
        if report.status == "pending":
            if pending.record.psp_reference is None and reference:  # its answer, at last
                pending.record = pending.record.model_copy(
                    update={"psp_reference": reference, "at": workflow.now()}
                )
                self.refunds[refund_id] = pending.record
                await self._record_refund(pending.record)
            return
        del self.pending_refunds[refund_id]
        self.refunds_in_flight -= pending.record.amount
        if not self.pending_refunds:
            self.refund_poll_at = None
        record = pending.record.model_copy(
            update={"psp_reference": reference, "status": report.status, "at": workflow.now()}
        )
        if report.status == "failed":
            reason = report.failure_reason or f"{self.psp} refund {report.psp_status}"
            await self._refund_failed(record, reason, source)
            return
        self.refunds[refund_id] = record
        await self._record_refund(record)
        await self._refund_succeeded(record, source)

    # ---- following pending refunds ---------------------------------------------------------

    async def _on_refund_event(self, event: PspEvent) -> None:
        """A PSP webhook about a refund; the lock is held."""
        report = event.refund
        if report is None:
            return
        refund_id = report.refund_id if report.refund_id in self.refunds else None
        refund_id = refund_id or next(
            (r.refund_id for r in self.refunds.values() if r.psp_reference == report.psp_reference),
            None,
        )
        if refund_id in self.pending_refunds:
            assert refund_id is not None
            await self._settle_refund(refund_id, report, event.source)
            return
        detail = f"{event.psp} {event.psp_status} ({event.event_id})"
        known = self.refunds.get(refund_id) if refund_id else None
        if known is None:
            await self._write(
                "ignored",
                self._current(),
                event.source,
                f"{detail}; ignored: not a refund cobro made for this payment",
            )
        elif report.status not in ("pending", known.status):
            # Final at cobro but reported otherwise (Stripe: a refund can fail after it
            # succeeded). Money already announced is not taken back here: ops decide.
            self._set_flag("refund_mismatch", True)
            await self._write(
                "ignored",
                self._current(),
                event.source,
                f"{detail}; refund {known.refund_id} is {known.status} at cobro: left for ops",
            )

    async def _poll_refunds(self) -> None:
        """Ask the PSP about each refund still pending: a webhook may be lost (or, at STP, none
        is sent)."""
        for refund_id, pending in list(self.pending_refunds.items()):
            result = await self._ask_about(pending)
            if result is None:
                continue
            async with self.lock:
                if refund_id in self.pending_refunds:
                    await self._settle_refund(refund_id, result, EventSource.PSP_POLL)
        if self.pending_refunds:
            limit = timedelta(seconds=self.payment.timings.poll_max_interval)
            self.refund_poll_every = min(self.refund_poll_every * 2, limit)
            self.refund_poll_at = workflow.now() + self.refund_poll_every

    async def _ask_about(self, pending: PendingRefund) -> PspRefundResult | None:
        record = pending.record
        try:
            if record.psp_reference is not None:
                result: PspRefundResult = await workflow.execute_activity_method(
                    PspActivities.get_refund,
                    RefundLookup(psp=pending.request.psp, refund_reference=record.psp_reference),
                    summary=f"check refund {record.psp_reference}",
                    **PSP_TIMEOUTS,
                )
                return result
            if workflow.now() - pending.since > ASK_AGAIN_FOR:
                self._set_flag("refund_outcome_unknown", True)
                return None
            # Its creation was never answered: ask again with the same key, which the PSP
            # answers with that refund (or creates it, if the first call never arrived).
            result = await workflow.execute_activity_method(
                PspActivities.refund_charge,
                pending.request,
                summary=f"refund {record.amount} centavos (asking again)",
                **PSP_TIMEOUTS,
            )
            return result
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

    def _refunds_waiting(self) -> str:
        """For the workflow's current details: what pending refunds wait for, until when."""
        if not self.pending_refunds or self.refund_poll_at is None:
            return ""
        amounts = ", ".join(f"{p.record.amount}" for p in self.pending_refunds.values())
        return (
            f" Following {len(self.pending_refunds)} pending refund(s) ({amounts} centavos); "
            f"next PSP check {self.refund_poll_at.isoformat()}."
        )
