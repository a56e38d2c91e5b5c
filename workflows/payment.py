"""PaymentWorkflow: one long-running workflow per payment (`payment-{id}`, task queue `payments`).

Pure orchestration: PSP calls and database writes are activities, time is workflow time, and
every status decision comes from `cobro.domain.lifecycle.decide`. The workflow:

1. creates the PSP charge (the API's create call waits on the `create` update for it);
2. waits for PSP events (signal `psp_event`), polling the PSP when none arrive, until the
   payment succeeds, or its expiry (+ grace) passes and it voids the charge and expires;
3. stays open for refunds (after success) or for late money (after expiry/cancellation).

Cancel and refund are updates with validators, so invalid requests never enter history.
"""

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.ops import AttachedDeposit
    from activities.psp import ChargeLookup, PspActivities
    from cobro.domain.lifecycle import Event, decide
    from cobro.domain.payment import (
        CancelRequest,
        ChargeCreated,
        CreateOutcome,
        PaymentInput,
        PspEvent,
        RefundRecord,
        RefundRequest,
        Transition,
    )
    from cobro.domain.routing import can_refund
    from cobro.domain.status import PAYABLE, EventSource, PaymentStatus
    from workflows.activity_failures import failure_reason
    from workflows.payment_creation import ChargeCreation
    from workflows.payment_ops import OpsRetryCreation, PaymentOps
    from workflows.payment_refunds import (
        PSP_TIMEOUTS,
        REFUNDABLE,
        PaymentRefunds,
        PendingRefund,
    )

TASK_QUEUE = "payments"
# What new payments are started with (PaymentInput.history_version). 2: `pending` is recorded
# with the charge's outcome, a merchant event in the same local activity as the transition
# that causes it, the PSP search attribute in the same upsert, and the charge created by a
# local activity (bench/README.md). Deploy workers before the API when this changes.
HISTORY_VERSION = 2
S = PaymentStatus
WAITING = PAYABLE | {S.PROCESSING}
PSP_EVENTS: dict[str, Event] = {
    "paid": Event.PSP_PAID,
    "processing": Event.PSP_PROCESSING,
    "failed": Event.PSP_FAILED,
    "canceled": Event.PSP_CANCELED,
    "expired": Event.PSP_EXPIRED,
}


def _rejected(message: str, type_: str) -> ApplicationError:
    return ApplicationError(message, type=type_, non_retryable=True)


@workflow.defn(name="PaymentWorkflow")
class PaymentWorkflow(ChargeCreation, PaymentRefunds, PaymentOps):
    @workflow.init
    def __init__(self, payment: PaymentInput) -> None:
        self.payment = payment
        self.status: PaymentStatus | None = None
        self.seq = 0
        self.charge: ChargeCreated | None = None
        self.psp = payment.psps[0]  # where the charge is (or is being) created
        self.orphan_cleanups: list[Any] = []
        self.outcome: CreateOutcome | None = None
        self.awaiting_retry = False  # every PSP failed; ops may retry (ops_retry_creation)
        self.retry_request: OpsRetryCreation | None = None
        # PSP events with the workflow time they arrived, waiting to be applied in order.
        self.inbox: list[tuple[datetime, PspEvent]] = []
        self.seen_event_ids: set[str] = set()
        self.signals_received = 0
        # Money applied to the charge (the PSP reports it cumulatively) and money the PSP kept
        # for the customer instead (over-payments, transfers after the charge was voided).
        self.charge_received = 0
        self.extra_received = 0
        self.attached_received = 0  # deposits ops attached (ops_attach_deposit), counted too
        self.amount_refunded = 0
        self.refunds_in_flight = 0
        self.refunds: dict[str, RefundRecord] = {}
        self.pending_refunds: dict[str, PendingRefund] = {}
        self.refund_poll_at: datetime | None = None
        self.refund_poll_every = timedelta(seconds=payment.timings.poll_after)
        self.refund_news = False
        self.held_late_money = 0  # late money the merchant's rule left for ops
        self.flags: set[str] = set()
        # One state change at a time: the main loop and the update handlers interleave.
        self.lock = asyncio.Lock()
        # HISTORY_VERSION 2: records not written yet (`pending`, until the charge's outcome)
        self.batched = False
        self.deferred: list[Transition] = []

    # ---- main line -------------------------------------------------------------------------

    @workflow.run
    async def run(self, payment: PaymentInput) -> PaymentStatus:
        if payment.history_version >= 2:
            self.batched = True
            self.deferred.append(
                self._transition("transition", S.PENDING, EventSource.API, "payment created")
            )
        else:  # payments started before HISTORY_VERSION 2
            async with self.lock:
                await self._write("transition", S.PENDING, EventSource.API, "payment created")
        charge = await self._create_charge()
        if charge is not None:
            await self._await_payment(charge)
        await self._stay_open()
        for cleanup in self.orphan_cleanups:
            try:
                await cleanup
            except ActivityError as err:
                workflow.logger.error("could not void orphan charges: %s", failure_reason(err))
        workflow.set_current_details(f"Closed: **{self.status}**.")
        await workflow.wait_condition(workflow.all_handlers_finished)
        assert self.status is not None
        return self.status

    async def _await_payment(self, charge: ChargeCreated) -> None:
        timings = self.payment.timings
        deadline = charge.expires_at + timedelta(seconds=timings.grace)
        poll_every = timedelta(seconds=timings.poll_after)
        next_poll = workflow.now() + poll_every
        while self.status in WAITING:
            now = workflow.now()
            if self.status in PAYABLE and now >= deadline:
                await self._expire(charge, deadline)
            elif self.inbox:
                await self._drain()
                poll_every = timedelta(seconds=timings.poll_after)  # news: reset the backoff
                next_poll = workflow.now() + poll_every
            elif now >= next_poll:  # no news for a while: a webhook may be lost
                await self._poll(charge)
                poll_every = min(poll_every * 2, timedelta(seconds=timings.poll_max_interval))
                next_poll = workflow.now() + poll_every
            else:
                wake_at = min(next_poll, deadline) if self.status in PAYABLE else next_poll
                self._show_waiting(charge, deadline, next_poll)
                try:
                    await workflow.wait_condition(
                        lambda: bool(self.inbox) or self.status not in WAITING,
                        timeout=wake_at - now,
                        timeout_summary="expiry or PSP status check",
                    )
                except TimeoutError:
                    pass

    def _show_waiting(self, charge: ChargeCreated, deadline: datetime, next_poll: datetime) -> None:
        workflow.set_current_details(
            f"Waiting for the customer to pay **{self.payment.amount / 100:,.2f} MXN** by "
            f"{self.payment.method} (received {self.amount_received / 100:,.2f}). Expires "
            f"{charge.expires_at.isoformat()}, grace until {deadline.isoformat()}; next PSP "
            f"status check {next_poll.isoformat()}."
        )

    async def _expire(self, charge: ChargeCreated, deadline: datetime) -> None:
        # Events that came in time still count; later ones are late money, applied after.
        await self._drain(arrived_before=deadline)
        # A lost webhook must not expire a paid voucher: ask the PSP before giving up.
        await self._poll(charge)
        if self.status not in PAYABLE:
            return
        try:
            await self._void_charge(charge)
        except ActivityError:  # the PSP refused to void it: it was probably paid just now
            await self._poll(charge)
            if self.status not in PAYABLE:
                return
        async with self.lock:
            if self.status not in PAYABLE:
                return
            await self._apply(
                Event.TIMER_EXPIRED,
                EventSource.TIMER,
                f"not paid by {charge.expires_at.isoformat()} + {self.payment.timings.grace} s "
                f"grace; charge voided at {self.psp}",
            )
            await self._return_partial_money(EventSource.TIMER)

    async def _stay_open(self) -> None:
        """Accept refunds after success; catch late money after expiry or cancellation; and
        follow every refund the PSP left pending until it ends, even past the window."""
        timings = self.payment.timings
        if self.status in REFUNDABLE:
            window, purpose = timings.refund_window, "refunds"
        elif self.charge is not None and self.status != S.REFUNDED:
            window, purpose = timings.late_window, "late payments"
        else:
            return
        close_at = workflow.now() + timedelta(seconds=window)
        while True:
            now = workflow.now()
            # Only ever set under the FOLLOW_REFUNDS patch: earlier histories wait as before.
            if self.refund_poll_at is not None and now >= self.refund_poll_at:
                await self._poll_refunds()
                continue
            if now >= close_at and self.refund_poll_at is None:
                return
            wake_at, summary = close_at, f"{purpose} window"
            poll_at = self.refund_poll_at
            if poll_at is not None and (now >= close_at or poll_at < close_at):
                wake_at, summary = poll_at, "refund status check"
            workflow.set_current_details(
                f"**{self.status}**; open for {purpose} until {close_at.isoformat()}."
                + self._refunds_waiting()
            )
            self.refund_news = False
            try:
                await workflow.wait_condition(
                    lambda: bool(self.inbox) or self.refund_news,
                    timeout=wake_at - now,
                    timeout_summary=summary,
                )
            except TimeoutError:
                if self.refund_poll_at is None:
                    return
                continue
            await self._drain()

    # ---- PSP events --------------------------------------------------------------------

    @workflow.signal
    def psp_event(self, event: PspEvent) -> None:
        """A PSP webhook; duplicates (same event id) are dropped here."""
        self.signals_received += 1
        if event.event_id not in self.seen_event_ids:
            self.seen_event_ids.add(event.event_id)
            self.inbox.append((workflow.now(), event))

    async def _drain(self, arrived_before: datetime | None = None) -> None:
        async with self.lock:
            while self.inbox and (arrived_before is None or self.inbox[0][0] < arrived_before):
                await self._on_psp_event(self.inbox.pop(0)[1])

    async def _poll(self, charge: ChargeCreated) -> None:
        event: PspEvent = await workflow.execute_activity_method(
            PspActivities.get_charge,
            self._lookup(charge),
            summary=f"check {charge.psp_reference} at {self.psp}",
            **PSP_TIMEOUTS,
        )
        if event.event_id not in self.seen_event_ids:
            self.seen_event_ids.add(event.event_id)
            async with self.lock:
                await self._on_psp_event(event.model_copy(update={"source": EventSource.PSP_POLL}))

    async def _on_psp_event(self, event: PspEvent) -> None:
        if event.kind == "refund":  # a new kind: no earlier history reaches this branch
            await self._on_refund_event(event)
            return
        detail = f"{event.psp} {event.psp_status} ({event.event_id})"
        if event.kind == "deposits":  # a new kind: no earlier history reaches this branch
            await self._on_deposits(event, detail)
            return
        if self.charge and event.psp_reference == self.charge.customer_reference:
            # Money the PSP kept for the customer instead of the charge (Stripe cash balance:
            # an over-payment, or a transfer after the charge was voided). Never lost.
            self.extra_received += event.amount_received
            await self._late_money(event.amount_received, event.source, detail)
            return
        if self.charge and event.psp_reference != self.charge.psp_reference:
            # A charge this payment does not use: one voided at a PSP we failed over from.
            if event.amount_received > 0:  # money on it is still the customer's: never lost
                self.extra_received += event.amount_received
                # Held: cobro refunds through the charge it uses, not through this one.
                await self._late_money(event.amount_received, event.source, detail, hold=True)
            else:
                await self._write(
                    "ignored",
                    self._current(),
                    event.source,
                    f"{detail}; ignored: {event.psp_reference} is not this "
                    f"payment's charge ({self.charge.psp_reference})",
                )
            return
        if event.kind == "partially_paid":
            if event.amount_received > self.charge_received and self.status in PAYABLE:
                self.charge_received = event.amount_received
                await self._write(
                    "partial_payment",
                    self._current(),
                    event.source,
                    f"received {event.amount_received} of {self.payment.amount} centavos; {detail}",
                    amount_received=self.amount_received,
                )
            return
        psp_event = PSP_EVENTS.get(event.kind)
        if psp_event is None:
            return
        decision = decide(self._current(), psp_event)
        if decision.late_payment:  # the charge itself was paid after it expired
            late = event.amount_received - self.charge_received
            if late > 0:
                self.charge_received = event.amount_received
                await self._late_money(late, event.source, detail)
            return
        fields: dict[str, Any] = {}
        if psp_event == Event.PSP_PAID:
            self.charge_received = max(self.charge_received, event.amount_received)
            fields["amount_received"] = self.amount_received
        if decision.target == S.FAILED and event.failure_reason:
            # Only MoonPay says why (which stage failed); None in earlier histories.
            fields["failure_reason"] = event.failure_reason
        await self._record_decision(decision, event.source, detail, **fields)
        if decision.target == S.CANCELED:
            await self._return_partial_money(event.source)

    async def _on_deposits(self, event: PspEvent, detail: str) -> None:
        """A direct SPEI provider (STP) reports the total it confirmed deposited to the
        payment's CLABE, cumulatively (so duplicates and reordering change nothing). What is
        new goes to the charge up to its amount (partial payment, then success); anything
        beyond it, or arriving once the payment cannot be paid, is extra money under the
        late-money rule, exactly as Stripe's cash balance is."""
        total = event.amount_received + self.attached_received  # ops attach deposits too
        new = total - self.amount_received
        if new <= 0:
            return  # already counted: a redelivery, or a total a newer one overtook
        if self.status in PAYABLE:  # nothing is extra yet: amount_received == charge_received
            to_charge = min(total, self.payment.amount)
            new -= to_charge - self.charge_received
            kind = "paid" if to_charge >= self.payment.amount else "partially_paid"
            await self._on_psp_event(
                event.model_copy(update={"kind": kind, "amount_received": to_charge})
            )
        if new > 0:
            self.extra_received += new
            # Beyond the charge, attached money is held: it may not come from the payer.
            await self._late_money(new, event.source, detail, hold=bool(self.attached_received))

    async def _credit_attached(self, deposit: AttachedDeposit, detail: str) -> None:
        """An unmatched deposit ops attached: counted like one more deposit to the CLABE."""
        assert self.charge is not None
        self.seen_event_ids.add(deposit.event_id)
        psp_total = self.amount_received - self.attached_received  # STP's total so far
        self.attached_received += deposit.amount
        event = PspEvent(
            psp=self.psp,
            event_id=deposit.event_id,
            kind="deposits",
            psp_reference=self.charge.psp_reference,
            psp_status=detail,
            amount_received=psp_total,
            occurred_at=workflow.now(),
            source=EventSource.OPS,
        )
        await self._on_deposits(event, f"{detail} ({deposit.event_id})")

    async def _return_partial_money(self, source: EventSource) -> None:
        """A payment that ended unpaid keeps no partial transfer: the late-money rule applies."""
        if self.charge_received > 0:
            await self._late_money(
                self.charge_received, source, f"partial payment when {self.status}"
            )

    @property
    def amount_received(self) -> int:
        return self.charge_received + self.extra_received

    async def _late_money(
        self, amount: int, source: EventSource, detail: str, hold: bool = False
    ) -> None:
        """Money the payment cannot use (late, partial at expiry, or over-payment), already
        counted as received: record it, then apply the merchant's rule (refund where the
        method allows, else hold for ops)."""
        policy = self.payment.late_payment_policy
        refund = not hold and policy == "refund" and can_refund(self.psp, self.payment.method)
        action = "refunding it" if refund else "held for ops"
        await self._write(
            "late_payment",
            self._current(),
            source,
            f"{amount} centavos arrived while {self.status}; {action} ({detail})",
            publish="payment.late_payment",
            amount_received=self.amount_received,
        )
        if not refund:
            self.held_late_money += amount
            self._set_flag("late_payment_held", True)
        else:
            await self._refund(
                RefundRequest(
                    refund_id=f"re_{workflow.uuid4().hex[:24]}",
                    amount=amount,
                    reason="late payment",
                    origin="late_payment",
                    source=source,
                )
            )

    # ---- cancel ------------------------------------------------------------------------

    @workflow.update
    async def cancel(self, request: CancelRequest) -> PaymentStatus:
        # Once the charge exists, or while no PSP would create it and ops have not retried.
        await workflow.wait_condition(lambda: self.outcome is not None or self.awaiting_retry)
        async with self.lock:
            self._check_cancelable()
            if self.charge is not None:
                try:
                    await self._void_charge(self.charge)
                except ActivityError as err:
                    # The PSP refused to void it, most likely because it was just paid.
                    event = await workflow.execute_activity_method(
                        PspActivities.get_charge, self._lookup(self.charge), **PSP_TIMEOUTS
                    )
                    await self._on_psp_event(
                        event.model_copy(update={"source": EventSource.PSP_POLL})
                    )
                    self._check_cancelable()
                    raise _rejected(
                        f"{self.psp} refused to void the charge: {failure_reason(err)}",
                        "PspRejected",
                    ) from err
            await self._apply(
                Event.CANCEL_REQUESTED,
                request.source,
                request.reason or f"canceled through the {request.source}",
            )
            await self._return_partial_money(request.source)
        return self._current()

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self.status is not None:
            self._check_cancelable()

    def _check_cancelable(self) -> None:
        if self.status not in PAYABLE:
            raise _rejected(
                f"Only a payment that can still be paid can be canceled; this one is "
                f"{self.status}.",
                "NotCancelable",
            )

    # ---- recording -----------------------------------------------------------------------

    @workflow.update
    async def create(self) -> CreateOutcome:
        """Answers once the PSP charge exists (or failed): the API's create call waits on it."""
        await workflow.wait_condition(lambda: self.outcome is not None)
        assert self.outcome is not None
        return self.outcome

    @workflow.signal
    def reconciliation_mismatch(self, day: str) -> None:
        """The daily reconciliation found this payment disagreeing with its PSP's report."""
        self._set_flag("reconciliation_mismatch", True)

    @workflow.query
    def current_status(self) -> PaymentStatus | None:
        return self.status

    @workflow.query
    def psp_signals_received(self) -> int:
        """How many PSP webhooks reached this workflow, duplicates included."""
        return self.signals_received

    @workflow.query
    def busy(self) -> bool:
        """True while PSP events wait to be applied or a state change is in progress."""
        return bool(self.inbox) or self.lock.locked()

    async def _void_charge(self, charge: ChargeCreated) -> None:
        await workflow.execute_activity_method(
            PspActivities.cancel_charge,
            self._lookup(charge),
            summary=f"void {charge.psp_reference} at {self.psp}",
            **PSP_TIMEOUTS,
        )

    def _lookup(self, charge: ChargeCreated) -> ChargeLookup:
        return ChargeLookup(psp=self.psp, psp_reference=charge.psp_reference)
