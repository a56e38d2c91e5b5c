"""How PaymentWorkflow records what happens: every event of the payment goes to the projection
(PostgreSQL, which the API reads) through a local activity, moves the search attributes ops
query, and tells the merchant when it is one of their events. Mixed into PaymentWorkflow."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from activities.merchant_webhooks import MerchantWebhookActivities
    from activities.projection import ProjectionActivities, TransitionBatch
    from cobro import search_attributes as sa
    from cobro.domain.lifecycle import Decision, Event, decide
    from cobro.domain.merchant_events import STATUS_EVENTS, MerchantEventInput
    from cobro.domain.payment import EventKind, PaymentInput, RefundRecord, Transition
    from cobro.domain.status import EventSource, PaymentStatus

# Writing the projection must eventually succeed; PostgreSQL may be down for a while.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


class PaymentRecords:
    # Set by PaymentWorkflow.__init__.
    payment: PaymentInput
    status: PaymentStatus | None
    seq: int
    flags: set[str]
    lock: asyncio.Lock
    # HISTORY_VERSION 2: one local activity per event, `pending` deferred to the next one.
    batched: bool
    deferred: list[Transition]

    async def _publish(self, event_type: str, refund_id: str | None = None) -> None:
        """Tell the merchant (SPEC §6): stored now, delivered by its own durable queue."""
        await workflow.execute_local_activity_method(
            MerchantWebhookActivities.publish,
            self._merchant_event(event_type, refund_id),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
            summary=f"publish {event_type}",
        )

    def _merchant_event(self, event_type: str, refund_id: str | None = None) -> MerchantEventInput:
        # A payment event is unique by the transition (seq) that causes it. A refund event is
        # unique by its refund, which ends once: a failed refund moves no seq, so two failures
        # in a row would otherwise share an id and the second would be dropped as a duplicate.
        unique = refund_id if refund_id is not None else f"{self.payment.payment_id}_{self.seq}"
        return MerchantEventInput(
            event_id=f"evt_{unique}_{event_type}",
            payment_id=self.payment.payment_id,
            merchant_id=self.payment.merchant_id,
            type=event_type,
            refund_id=refund_id,
        )

    async def _record_refund(self, record: RefundRecord) -> None:
        await workflow.execute_local_activity_method(
            ProjectionActivities.record_refund,
            record,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=DB_RETRY,
            summary=f"record refund {record.status}",
        )

    def _set_flag(self, flag: str, on: bool) -> None:
        self.flags = self.flags | {flag} if on else self.flags - {flag}
        workflow.upsert_search_attributes([sa.PAYMENT_FLAGS.value_set(sorted(self.flags))])

    async def _write_note(self, detail: str, **fields: Any) -> None:
        await self._write("late_payment", self._current(), EventSource.OPS, detail, **fields)

    def _current(self) -> PaymentStatus:
        assert self.status is not None
        return self.status

    async def _apply(
        self, event: Event, source: EventSource, detail: str, **fields: Any
    ) -> Decision:
        decision = decide(self._current(), event)
        await self._record_decision(decision, source, detail, **fields)
        return decision

    async def _record_decision(
        self, decision: Decision, source: EventSource, detail: str, **fields: Any
    ) -> None:
        if decision.target is not None:
            await self._write(
                "transition",
                decision.target,
                source,
                detail,
                publish=STATUS_EVENTS.get(decision.target),
                **fields,
            )
        elif not decision.confirms:  # recorded, never applied
            await self._write(
                "ignored",
                self._current(),
                source,
                f"{detail}; ignored: {decision.reason}",
                **fields,
            )

    async def _write(
        self,
        kind: EventKind,
        to: PaymentStatus,
        source: EventSource,
        detail: str,
        publish: str | None = None,
        **fields: Any,
    ) -> None:
        """Record an event in the projection, then tell the merchant (`publish`) if it is one
        of theirs. Projection writes are local activities: one marker event in history each,
        and no round trip through the task queue (bench/README.md)."""
        transition = self._transition(kind, to, source, detail, **fields)
        summary = f"record {transition.from_status or 'new'} -> {to} ({kind})"
        if not self.batched:
            await workflow.execute_local_activity_method(
                ProjectionActivities.record_transition,
                transition,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=DB_RETRY,
                summary=summary,
            )
            if publish is not None:
                await self._publish(publish)
            return
        records, self.deferred = [*self.deferred, transition], []
        await workflow.execute_local_activity_method(
            ProjectionActivities.record_transitions,
            TransitionBatch(
                transitions=records,
                publish=self._merchant_event(publish) if publish is not None else None,
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
            summary=summary + (f", publish {publish}" if publish else ""),
        )

    def _transition(
        self, kind: EventKind, to: PaymentStatus, source: EventSource, detail: str, **fields: Any
    ) -> Transition:
        """The next event of the payment: status, sequence and search attributes move now."""
        previous, self.status = self.status, to
        self.seq += 1
        updates: list[SearchAttributeUpdate[Any]] = []
        if previous not in (None, to):  # the API starts the workflow with PaymentStatus set
            updates.append(sa.PAYMENT_STATUS.value_set(to.value))
        if isinstance(ref := fields.get("psp_reference"), str):
            updates.append(sa.PSP_REFERENCE.value_set(ref))
        if isinstance(expires := fields.get("expires_at"), datetime):
            updates.append(sa.PAYMENT_EXPIRES_AT.value_set(expires))
        if self.batched and isinstance(psp := fields.get("psp"), str):
            updates.append(sa.PSP.value_set(psp))
        if updates:
            workflow.upsert_search_attributes(updates)
        return Transition(
            payment_id=self.payment.payment_id,
            seq=self.seq,
            kind=kind,
            from_status=previous,
            to_status=to,
            at=workflow.now(),
            source=source,
            detail=detail,
            **fields,
        )
