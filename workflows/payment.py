"""PaymentWorkflow: one long-running workflow per payment (`payment-{id}`, task queue `payments`).

Pure orchestration: PSP calls and database writes are activities; time is workflow time.
"""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.projection import ProjectionActivities
    from activities.psp import ChargeRequest, PspActivities
    from cobro import search_attributes as sa
    from cobro.domain.payment import CreateOutcome, PaymentInput, PspEvent, Transition
    from cobro.domain.status import TERMINAL, EventSource, PaymentStatus, can_move

TASK_QUEUE = "payments"
EVENT_TARGETS: dict[str, PaymentStatus] = {
    "paid": PaymentStatus.SUCCEEDED,
    "failed": PaymentStatus.FAILED,
    "canceled": PaymentStatus.CANCELED,
    "expired": PaymentStatus.EXPIRED,
}
PSP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["PspRejected"],
)
# Writing the projection must eventually succeed; PostgreSQL may be down for a while.
DB_RETRY = RetryPolicy(
    initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10)
)


@workflow.defn(name="PaymentWorkflow")
class PaymentWorkflow:
    @workflow.init
    def __init__(self, payment: PaymentInput) -> None:
        self.payment = payment
        self.status: PaymentStatus | None = None
        self.seq = 0
        self.outcome: CreateOutcome | None = None
        self.inbox: list[PspEvent] = []
        self.seen_event_ids: set[str] = set()
        self.amount_received = 0

    @workflow.run
    async def run(self, payment: PaymentInput) -> PaymentStatus:
        await self._transition(PaymentStatus.PENDING, EventSource.API, "payment created")
        expires_at = workflow.now() + timedelta(seconds=payment.expires_in)
        try:
            charge = await workflow.execute_activity_method(
                PspActivities.create_charge,
                ChargeRequest(payment=payment, expires_at=expires_at),
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(minutes=10),
                retry_policy=PSP_RETRY,
                summary=f"create {payment.method} charge at {payment.psp}",
            )
        except ActivityError as err:
            reason = str(err.cause) if err.cause else str(err)
            await self._transition(
                PaymentStatus.FAILED,
                EventSource.API,
                f"{payment.psp} did not create the charge",
                failure_reason=reason,
            )
            self.outcome = CreateOutcome(status=PaymentStatus.FAILED, failure_reason=reason)
            return await self._finish()

        await self._transition(
            PaymentStatus.AWAITING_PAYMENT,
            EventSource.API,
            f"{payment.psp} charge {charge.psp_reference} created",
            psp_reference=charge.psp_reference,
            instructions=charge.instructions,
            expires_at=charge.expires_at,
        )
        self.outcome = CreateOutcome(
            status=PaymentStatus.AWAITING_PAYMENT,
            psp_reference=charge.psp_reference,
            instructions=charge.instructions,
            expires_at=charge.expires_at,
        )
        await self._wait_for_payment(charge.expires_at)
        return await self._finish()

    async def _wait_for_payment(self, expires_at: datetime) -> None:
        # Late OXXO/SPEI confirmations still count during the grace window.
        deadline = expires_at + timedelta(seconds=self.payment.grace_seconds)
        while self.status not in TERMINAL:
            remaining = deadline - workflow.now()
            workflow.set_current_details(
                f"Waiting for the customer to pay **{self.payment.amount / 100:,.2f} MXN** "
                f"by {self.payment.method}; expires {expires_at.isoformat()} (grace until "
                f"{deadline.isoformat()})."
            )
            try:
                if remaining <= timedelta(0):
                    raise TimeoutError
                await workflow.wait_condition(
                    lambda: bool(self.inbox),
                    timeout=remaining,
                    timeout_summary="voucher expiry + grace",
                )
            except TimeoutError:
                await self._transition(
                    PaymentStatus.EXPIRED,
                    EventSource.TIMER,
                    f"not paid by {expires_at.isoformat()} (+ grace)",
                )
                return
            while self.inbox and self.status not in TERMINAL:
                await self._apply(self.inbox.pop(0))

    async def _apply(self, event: PspEvent) -> None:
        self.amount_received = max(self.amount_received, event.amount_received)
        target = EVENT_TARGETS.get(event.kind)
        assert self.status is not None
        if target is None or not can_move(self.status, target):
            workflow.logger.info(
                "ignoring %s event %s in status %s", event.kind, event.event_id, self.status
            )
            return
        await self._transition(
            target,
            event.source,
            f"{event.psp} {event.psp_status} ({event.event_id})",
            amount_received=self.amount_received,
        )

    @workflow.update
    async def create(self) -> CreateOutcome:
        """Answers once the PSP charge exists (or failed): the API's create call waits on it."""
        await workflow.wait_condition(lambda: self.outcome is not None)
        assert self.outcome is not None
        return self.outcome

    @workflow.signal
    def psp_event(self, event: PspEvent) -> None:
        """A PSP webhook (or poll result); duplicates are dropped by event id."""
        if event.event_id in self.seen_event_ids:
            return
        self.seen_event_ids.add(event.event_id)
        self.inbox.append(event)

    @workflow.query
    def current_status(self) -> PaymentStatus | None:
        return self.status

    async def _transition(
        self, to: PaymentStatus, source: EventSource, detail: str, **fields: object
    ) -> None:
        previous, self.status = self.status, to
        self.seq += 1
        workflow.upsert_search_attributes(
            [sa.PAYMENT_STATUS.value_set(to.value), *self._attribute_updates(fields)]
        )
        await workflow.execute_activity_method(
            ProjectionActivities.record_transition,
            Transition(
                payment_id=self.payment.payment_id,
                seq=self.seq,
                from_status=previous,
                to_status=to,
                at=workflow.now(),
                source=source,
                detail=detail,
                **fields,
            ),
            start_to_close_timeout=timedelta(seconds=10),
            retry_policy=DB_RETRY,
            summary=f"record {previous or 'new'} -> {to}",
        )

    @staticmethod
    def _attribute_updates(fields: dict[str, object]) -> list[SearchAttributeUpdate[Any]]:
        updates: list[SearchAttributeUpdate[Any]] = []
        if isinstance(ref := fields.get("psp_reference"), str):
            updates.append(sa.PSP_REFERENCE.value_set(ref))
        if isinstance(expires := fields.get("expires_at"), datetime):
            updates.append(sa.PAYMENT_EXPIRES_AT.value_set(expires))
        return updates

    async def _finish(self) -> PaymentStatus:
        workflow.set_current_details(f"Finished: **{self.status}**.")
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self.status is not None
        return self.status
