"""PaymentWorkflow: one long-running workflow per payment (`payment-{id}`, task queue `payments`).

An orchestrator over a pure PaymentState (cobro/domain/payment_state.py), which decides what
every PSP event, request and ops action does to the payment and its money. The workflow only
orchestrates: it waits on signals, timers and updates, calls activities, and carries out the
steps the state returns (recorder.py). It:

1. creates the PSP charge (charge_creation.py; the API's create call waits on the `create`
   update for it);
2. waits for PSP events (signal `psp_event`), polling the PSP when none arrive, until the
   payment succeeds, or its expiry (+ grace) passes and it voids the charge and expires;
3. stays open for refunds (after success, refunds.py) or for late money (after expiry or
   cancellation).

Cancel, refund and the ops actions are updates with validators, so invalid requests never
enter history. Runs in Temporal's sandbox: only cobro.domain, cobro.activity_api and
cobro.search_attributes are passed through.
"""

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro.domain import payment_checks as checks
    from cobro.domain.lifecycle import Event
    from cobro.domain.ops_requests import (
        OpsAttachDeposit,
        OpsMarkPaid,
        OpsRequest,
        OpsResolveLatePayment,
        OpsRetryCreation,
    )
    from cobro.domain.payment import (
        CancelRequest,
        CreateOutcome,
        PaymentInput,
        PspEvent,
        RefundRecord,
        RefundRequest,
    )
    from cobro.domain.payment_checks import Refused
    from cobro.domain.payment_state import REFUNDABLE, PaymentState
    from cobro.domain.payment_steps import Publish, Record, SetFlags, Step
    from cobro.domain.status import EventSource, PaymentStatus

from workflows.activity_options import failure_reason
from workflows.charge_creation import ChargeCreation
from workflows.recorder import Recorder
from workflows.refunds import Refunds
from workflows.waiting import Waiting

# What new payments are started with (PaymentInput.history_version). 2: `pending` is recorded
# with the charge's outcome, a merchant event in the same local activity as the transition
# that causes it, the PSP search attribute in the same upsert, and the charge created by a
# local activity (bench/README.md). 3: once succeeded, the payment continues as new into its
# refund window, carrying no customer data. 4: status checks and voids at a PSP run on that
# PSP's rate-limited task queue (cobro.activity_api.psp_task_queue). 5: at expiry, a charge
# paid in full or not at all (OXXO) is voided first, with no status check unless the void is
# refused (waiting.py). Deploy workers before the API when this changes.
HISTORY_VERSION = 5
S = PaymentStatus


def _refused(message: str, type_: str) -> ApplicationError:
    return ApplicationError(message, type=type_, non_retryable=True)


def _check(check: Callable[..., None], *args: object) -> None:
    """Run one of PaymentState's checks; a refusal becomes the update's error."""
    try:
        check(*args)
    except Refused as refused:
        raise _refused(str(refused), refused.type) from None


@workflow.defn(name="PaymentWorkflow")
class PaymentWorkflow:
    @workflow.init
    def __init__(self, payment: PaymentInput) -> None:
        resumed = payment.resume
        self.state = (
            PaymentState.resumed(payment, resumed) if resumed else PaymentState.new(payment)
        )
        # One state change at a time: the main loop and the update handlers interleave.
        self.lock = asyncio.Lock()
        batched = payment.history_version >= 2
        self.recorder = Recorder(batched)
        self.creation = ChargeCreation(self.state, self.lock, self._do, batched)
        self.refunds = Refunds(self.state, self.lock, self.recorder, self._do)
        self.waiting = Waiting(self.state, self.lock, self.refunds, self._do)
        if resumed is not None:
            self.refunds.records = {r.refund_id: r for r in resumed.refunds}

    # ---- main line -------------------------------------------------------------------------

    @workflow.run
    async def run(self, payment: PaymentInput) -> PaymentStatus:
        if payment.resume is not None:  # the refund window of a succeeded payment
            await self.waiting.stay_open(until=payment.resume.close_at)
        else:
            await self._get_paid(payment)
        workflow.set_current_details(f"Closed: **{self.state.status}**.")
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.state.current()

    async def _get_paid(self, payment: PaymentInput) -> None:
        created = self.state.record(
            "transition", S.PENDING, EventSource.API, "payment created", workflow.now()
        )
        if payment.history_version >= 2:
            self.recorder.defer(created)
        else:  # payments started before HISTORY_VERSION 2
            async with self.lock:
                await self.recorder.record(created)
        charge = await self.creation.create()
        if charge is not None:
            await self.waiting.await_payment(charge)
        if payment.history_version >= 3 and self.state.status in REFUNDABLE:
            orphans = self.creation.orphan_cleanups
            await self.waiting.refund_window(lambda: all(c.done() for c in orphans))
        else:
            await self.waiting.stay_open()
        for cleanup in self.creation.orphan_cleanups:
            try:
                await cleanup
            except ActivityError as err:
                workflow.logger.error("could not void orphan charges: %s", failure_reason(err))

    async def _do(self, steps: list[Step]) -> None:
        """Carry out what the payment's state decided, in order."""
        for step in steps:
            if isinstance(step, Record):
                await self.recorder.record(step)
            elif isinstance(step, Publish):
                await self.recorder.publish(step.event)
            elif isinstance(step, SetFlags):
                self.recorder.set_flags(step)
            else:
                refund_id = f"re_{workflow.uuid4().hex[:24]}"
                await self.refunds.refund(
                    RefundRequest(
                        refund_id=refund_id,
                        amount=step.amount,
                        reason="late payment",
                        origin="late_payment",
                        source=step.source,
                    )
                )

    # ---- PSP events --------------------------------------------------------------------

    @workflow.signal
    def psp_event(self, event: PspEvent) -> None:
        """A PSP webhook; duplicates (same event id) are dropped here."""
        self.waiting.receive(event)

    # ---- merchant requests -------------------------------------------------------------

    @workflow.update
    async def create(self) -> CreateOutcome:
        """Answers once the PSP charge exists (or failed): the API's create call waits on it."""
        await workflow.wait_condition(lambda: self.creation.outcome is not None)
        assert self.creation.outcome is not None
        return self.creation.outcome

    @workflow.update
    async def cancel(self, request: CancelRequest) -> PaymentStatus:
        state, creation = self.state, self.creation
        # Once the charge exists, or while no PSP would create it and ops have not retried.
        await workflow.wait_condition(
            lambda: creation.outcome is not None or creation.awaiting_retry
        )
        async with self.lock:
            _check(checks.check_cancelable, state)
            if state.charge is not None:
                try:
                    await self.waiting.void_charge(state.charge)
                except ActivityError as err:
                    # The PSP refused to void it, most likely because it was just paid.
                    await self.waiting.apply(await self.waiting.check(state.charge))
                    _check(checks.check_cancelable, state)
                    raise _refused(
                        f"{state.psp} refused to void the charge: {failure_reason(err)}",
                        "PspRejected",
                    ) from err
            detail = request.reason or f"canceled through the {request.source}"
            await self._do(
                state.apply(Event.CANCEL_REQUESTED, request.source, detail, workflow.now())
            )
            await self._do(state.return_partial_money(request.source, workflow.now()))
        return state.current()

    @cancel.validator
    def _validate_cancel(self, request: CancelRequest) -> None:
        if self.state.status is not None:
            _check(checks.check_cancelable, self.state)

    @workflow.update
    async def refund(self, request: RefundRequest) -> RefundRecord:
        async with self.lock:
            # The same refund asked again (Temporal dedupes update ids within a run only; a
            # continued run must not refund twice): its record, as it stands.
            if (known := self.refunds.records.get(request.refund_id)) is not None:
                return known
            _check(checks.check_refund, self.state, request.amount)
            return await self.refunds.refund(request)

    @refund.validator
    def _validate_refund(self, request: RefundRequest) -> None:
        if request.refund_id not in self.refunds.records:
            _check(checks.check_refund, self.state, request.amount)

    # ---- ops (the Web UI's "Send Update", or `temporal workflow update execute`) -------------

    @workflow.update
    async def ops_mark_paid(self, request: OpsMarkPaid) -> PaymentStatus:
        """The money arrived but no PSP event says so (seen on a bank statement, say)."""
        async with self.lock:
            _check(checks.check_open, self.state, "marked paid")
            amount = request.amount or self.state.payment.amount
            detail = f"{request.operator}: {request.reason} (evidence: {request.evidence})"
            await self._do(self.state.mark_paid(amount, detail, workflow.now()))
        return self.state.current()

    @ops_mark_paid.validator
    def _validate_mark_paid(self, request: OpsMarkPaid) -> None:
        _check(checks.check_open, self.state, "marked paid")

    @workflow.update
    async def ops_force_expire(self, request: OpsRequest) -> PaymentStatus:
        """End a payment that must not be paid any more; its voucher/CLABE is voided."""
        state = self.state
        async with self.lock:
            _check(checks.check_open, state, "expired")
            if state.charge is not None:
                try:
                    await self.waiting.void_charge(state.charge)
                except ActivityError as err:
                    raise _refused(
                        f"{state.psp} refused to void the charge ({err.cause}); it "
                        f"may have been paid: check the PSP first",
                        "OpsRefused",
                    ) from err
            detail = f"{request.operator}: {request.reason}"
            await self._do(
                state.apply(Event.OPS_FORCE_EXPIRE, EventSource.OPS, detail, workflow.now())
            )
            await self._do(state.return_partial_money(EventSource.OPS, workflow.now()))
        return state.current()

    @ops_force_expire.validator
    def _validate_force_expire(self, request: OpsRequest) -> None:
        _check(checks.check_open, self.state, "expired")

    @workflow.update
    async def ops_retry_creation(self, request: OpsRetryCreation) -> str:
        """Every PSP was unavailable and the payment waits in `pending`: try again (at one PSP
        of the route, or down the whole route). Answers once that attempt is over."""
        creation = self._check_retryable(request)
        creation.retry_request = request
        await workflow.wait_condition(
            lambda: (
                creation.outcome is not None
                or (creation.awaiting_retry and creation.retry_request is None)
            )
        )
        if creation.outcome is not None:
            outcome = creation.outcome
            return f"{self.state.status}: {outcome.psp_reference or outcome.failure_reason}"
        return f"{self.state.status}: creation failed again; see the payment's current details"

    @ops_retry_creation.validator
    def _validate_retry_creation(self, request: OpsRetryCreation) -> None:
        self._check_retryable(request)

    def _check_retryable(self, request: OpsRetryCreation) -> ChargeCreation:
        refusal = self.creation.check_retryable(request)
        if refusal is not None:
            raise _refused(refusal, "OpsRefused")
        return self.creation

    @workflow.update
    async def ops_attach_deposit(self, request: OpsAttachDeposit) -> int:
        """A SPEI deposit STP kept under a CLABE no payment had (a mistyped one, say): credit
        it to this payment, once STP confirms it settled. Returns the centavos received."""
        state = self.state
        _check(checks.check_attachable, state)
        async with self.lock:
            _check(checks.check_attachable, state)
            try:
                deposit = await workflow.execute_activity(
                    api.attach_unmatched_deposit,
                    api.DepositClaim(
                        event_id=request.event_id, payment_id=state.payment.payment_id
                    ),
                    summary=f"attach deposit {request.event_id}",
                    start_to_close_timeout=timedelta(seconds=30),
                    schedule_to_close_timeout=timedelta(minutes=2),
                    retry_policy=RetryPolicy(non_retryable_error_types=["OpsRefused"]),
                )
            except ActivityError as err:
                raise _refused(
                    f"{request.event_id} was not attached: {err.cause}", "OpsRefused"
                ) from err
            detail = (
                f"deposit {deposit.clave_rastreo} attached by {request.operator}: {request.reason}"
            )
            await self._do(
                state.credit_attached(deposit.event_id, deposit.amount, detail, workflow.now())
            )
        return state.amount_received

    @ops_attach_deposit.validator
    def _validate_attach_deposit(self, request: OpsAttachDeposit) -> None:
        _check(checks.check_attachable, self.state)

    @workflow.update
    async def ops_resolve_late_payment(self, request: OpsResolveLatePayment) -> int:
        """Refund, or keep, late money held for ops. Returns the centavos resolved."""
        state = self.state
        async with self.lock:
            _check(checks.check_late, state, request.action)
            amount, flags = state.release_held()
            self.recorder.set_flags(flags)
            if request.action == "keep":
                detail = f"late payment of {amount} centavos kept; "
                detail += f"{request.operator}: {request.reason}"
                await self._do(
                    [
                        state.record(
                            "late_payment", state.current(), EventSource.OPS, detail, workflow.now()
                        )
                    ]
                )
            else:
                await self.refunds.refund(
                    RefundRequest(
                        refund_id=f"re_{workflow.uuid4().hex[:24]}",
                        amount=amount,
                        reason=request.reason,
                        origin="late_payment",
                        source=EventSource.OPS,
                    )
                )
        return amount

    @ops_resolve_late_payment.validator
    def _validate_resolve_late(self, request: OpsResolveLatePayment) -> None:
        _check(checks.check_late, self.state, request.action)

    # ---- reconciliation and queries ----------------------------------------------------------

    @workflow.signal
    def reconciliation_mismatch(self, day: str) -> None:
        """The daily reconciliation found this payment disagreeing with its PSP's report."""
        self.recorder.set_flags(self.state.set_flag("reconciliation_mismatch", True))

    @workflow.query
    def current_status(self) -> PaymentStatus | None:
        return self.state.status

    @workflow.query
    def psp_signals_received(self) -> int:
        """How many PSP webhooks reached this payment, duplicates included (all runs)."""
        return self.waiting.signals_received

    @workflow.query
    def busy(self) -> bool:
        """True while PSP events wait to be applied or a state change is in progress."""
        return bool(self.waiting.inbox) or self.lock.locked()
