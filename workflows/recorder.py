"""Carries out the recording steps of a payment's state: each event goes to the projection
(PostgreSQL, which the API reads) through a local activity, moves the search attributes ops
query, and tells the merchant when it is one of their events.

Projection writes are local activities: one marker in history each and no round trip through
the task queue. HISTORY_VERSION 2 (`batched`) writes an event and the merchant event it causes
in one local activity, and defers `pending` to the charge's outcome (bench/README.md).
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro import search_attributes as sa
    from cobro.domain.merchant_events import MerchantEventInput
    from cobro.domain.payment import RefundRecord, Transition
    from cobro.domain.payment_steps import Record, SetFlags

from workflows.activity_options import DB_RETRY


class Recorder:
    def __init__(self, batched: bool) -> None:
        self.batched = batched
        self.deferred: list[Transition] = []  # written with the next event (version 2)

    def defer(self, step: Record) -> None:
        self._move_search_attributes(step.transition)
        self.deferred.append(step.transition)

    async def record(self, step: Record) -> None:
        transition, publish = step.transition, step.publish
        self._move_search_attributes(transition)
        summary = f"record {transition.from_status or 'new'} -> {transition.to_status} "
        summary += f"({transition.kind})"
        if not self.batched:
            await workflow.execute_local_activity(
                api.record_transition,
                transition,
                start_to_close_timeout=timedelta(seconds=10),
                retry_policy=DB_RETRY,
                summary=summary,
            )
            if publish is not None:
                await self.publish(publish)
            return
        records, self.deferred = [*self.deferred, transition], []
        await workflow.execute_local_activity(
            api.record_transitions,
            api.TransitionBatch(transitions=records, publish=publish),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
            summary=summary + (f", publish {publish.type}" if publish else ""),
        )

    async def publish(self, event: MerchantEventInput) -> None:
        """Tell the merchant (SPEC §6): stored now, delivered by its own durable queue."""
        await workflow.execute_local_activity(
            api.publish_merchant_event,
            event,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=DB_RETRY,
            summary=f"publish {event.type}",
        )

    async def record_refund(self, record: RefundRecord) -> None:
        await workflow.execute_local_activity(
            api.record_refund,
            record,
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=DB_RETRY,
            summary=f"record refund {record.status}",
        )

    def set_flags(self, step: SetFlags) -> None:
        workflow.upsert_search_attributes([sa.PAYMENT_FLAGS.value_set(list(step.flags))])

    def _move_search_attributes(self, transition: Transition) -> None:
        updates: list[SearchAttributeUpdate[Any]] = []
        previous, to = transition.from_status, transition.to_status
        if previous not in (None, to):  # the API starts the workflow with PaymentStatus set
            updates.append(sa.PAYMENT_STATUS.value_set(to.value))
        if isinstance(transition.psp_reference, str):
            updates.append(sa.PSP_REFERENCE.value_set(transition.psp_reference))
        if isinstance(transition.expires_at, datetime):
            updates.append(sa.PAYMENT_EXPIRES_AT.value_set(transition.expires_at))
        if self.batched and isinstance(transition.psp, str):
            updates.append(sa.PSP.value_set(transition.psp))
        if updates:
            workflow.upsert_search_attributes(updates)
