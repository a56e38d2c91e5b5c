"""Ops actions on a payment, from the Temporal Web UI ("Send Update") or the CLI
(`temporal workflow update execute`). Each is an update whose validator refuses what does not
apply before it enters history, needs the operator's name and reason, and is recorded with
source `ops`. Mixed into PaymentWorkflow; this class only holds the handlers.
"""

import asyncio
from datetime import timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.ops import AttachedDeposit, DepositClaim, OpsActivities
    from cobro.domain.lifecycle import Decision, Event
    from cobro.domain.payment import ChargeCreated, PaymentInput, RefundRequest
    from cobro.domain.routing import can_refund
    from cobro.domain.status import PAYABLE, EventSource, PaymentStatus


class OpsRequest(BaseModel):
    operator: str = Field(min_length=1, max_length=100)
    reason: str = Field(min_length=3, max_length=1000)


class OpsMarkPaid(OpsRequest):
    evidence: str = Field(
        min_length=3,
        max_length=1000,
        description="e.g. the SPEI clave de rastreo or the PSP dashboard link",
    )
    amount: int | None = Field(
        default=None, gt=0, description="centavos; the full amount if omitted"
    )


class OpsRetryCreation(OpsRequest):
    psp: str | None = Field(
        default=None, description="one PSP of the merchant's route; the whole route if omitted"
    )


class OpsAttachDeposit(OpsRequest):
    event_id: str = Field(
        min_length=1, max_length=255, description="the deposit from `cobro ops unmatched`"
    )


class OpsResolveLatePayment(OpsRequest):
    action: Literal["refund", "keep"]


def _refused(message: str) -> ApplicationError:
    return ApplicationError(message, type="OpsRefused", non_retryable=True)


class PaymentOps:
    # What the handlers use from PaymentWorkflow.
    payment: PaymentInput
    status: PaymentStatus | None
    charge: ChargeCreated | None
    psp: str
    lock: asyncio.Lock
    charge_received: int
    held_late_money: int
    awaiting_retry: bool
    retry_request: OpsRetryCreation | None
    outcome: Any

    async def _apply(
        self, event: Event, source: EventSource, detail: str, **fields: Any
    ) -> Decision:
        raise NotImplementedError

    async def _write_note(self, detail: str, **fields: Any) -> None:
        raise NotImplementedError

    async def _void_charge(self, charge: ChargeCreated) -> None:
        raise NotImplementedError

    async def _return_partial_money(self, source: EventSource) -> None:
        raise NotImplementedError

    async def _refund(self, request: RefundRequest) -> Any:
        raise NotImplementedError

    async def _credit_attached(self, deposit: AttachedDeposit, detail: str) -> None:
        raise NotImplementedError

    def _set_flag(self, flag: str, on: bool) -> None:
        raise NotImplementedError

    @property
    def amount_received(self) -> int:
        raise NotImplementedError

    # ---- mark paid ---------------------------------------------------------------------

    @workflow.update
    async def ops_mark_paid(self, request: OpsMarkPaid) -> PaymentStatus:
        """The money arrived but no PSP event says so (seen on a bank statement, say)."""
        async with self.lock:
            self._check_payable("marked paid")
            amount = request.amount or self.payment.amount
            self.charge_received = max(self.charge_received, amount)
            await self._apply(
                Event.OPS_MARK_PAID,
                EventSource.OPS,
                f"{request.operator}: {request.reason} (evidence: {request.evidence})",
                amount_received=self.amount_received,
            )
        assert self.status is not None
        return self.status

    @ops_mark_paid.validator
    def _validate_mark_paid(self, request: OpsMarkPaid) -> None:
        self._check_payable("marked paid")

    # ---- force expire --------------------------------------------------------------------

    @workflow.update
    async def ops_force_expire(self, request: OpsRequest) -> PaymentStatus:
        """End a payment that must not be paid any more; its voucher/CLABE is voided."""
        async with self.lock:
            self._check_payable("expired")
            if self.charge is not None:
                try:
                    await self._void_charge(self.charge)
                except ActivityError as err:
                    raise _refused(
                        f"{self.psp} refused to void the charge ({err.cause}); it "
                        f"may have been paid: check the PSP first"
                    ) from err
            await self._apply(
                Event.OPS_FORCE_EXPIRE, EventSource.OPS, f"{request.operator}: {request.reason}"
            )
            await self._return_partial_money(EventSource.OPS)
        assert self.status is not None
        return self.status

    @ops_force_expire.validator
    def _validate_force_expire(self, request: OpsRequest) -> None:
        self._check_payable("expired")

    # ---- retry PSP creation ----------------------------------------------------------------

    @workflow.update
    async def ops_retry_creation(self, request: OpsRetryCreation) -> str:
        """Every PSP was unavailable and the payment waits in `pending`: try again (at one PSP
        of the route, or down the whole route). Answers once that attempt is over."""
        self._check_retryable(request)
        self.retry_request = request
        await workflow.wait_condition(
            lambda: self.outcome is not None or (self.awaiting_retry and self.retry_request is None)
        )
        if self.outcome is not None:
            return f"{self.status}: {self.outcome.psp_reference or self.outcome.failure_reason}"
        return f"{self.status}: creation failed again; see the payment's current details"

    @ops_retry_creation.validator
    def _validate_retry_creation(self, request: OpsRetryCreation) -> None:
        self._check_retryable(request)

    def _check_retryable(self, request: OpsRetryCreation) -> None:
        if not self.awaiting_retry or self.retry_request is not None:
            raise _refused(
                "Creation can be retried only while the payment waits for ops after every PSP "
                f"failed to create its charge (PaymentFlags = 'creation_failed'); this one is "
                f"{self.status}."
            )
        if request.psp is not None and request.psp not in self.payment.psps:
            raise _refused(
                f"{request.psp!r} is not on this merchant's route for {self.payment.method} "
                f"({', '.join(self.payment.psps)})."
            )

    # ---- attach an unmatched deposit -----------------------------------------------------

    @workflow.update
    async def ops_attach_deposit(self, request: OpsAttachDeposit) -> int:
        """A SPEI deposit STP kept under a CLABE no payment had (a mistyped one, say): credit
        it to this payment, once STP confirms it settled. Returns the centavos received."""
        self._check_attachable()
        async with self.lock:
            self._check_attachable()
            try:
                deposit: AttachedDeposit = await workflow.execute_activity_method(
                    OpsActivities.attach_unmatched_deposit,
                    DepositClaim(event_id=request.event_id, payment_id=self.payment.payment_id),
                    summary=f"attach deposit {request.event_id}",
                    start_to_close_timeout=timedelta(seconds=30),
                    schedule_to_close_timeout=timedelta(minutes=2),
                    retry_policy=RetryPolicy(non_retryable_error_types=["OpsRefused"]),
                )
            except ActivityError as err:
                raise _refused(f"{request.event_id} was not attached: {err.cause}") from err
            await self._credit_attached(
                deposit,
                f"deposit {deposit.clave_rastreo} attached by {request.operator}: {request.reason}",
            )
        return self.amount_received

    @ops_attach_deposit.validator
    def _validate_attach_deposit(self, request: OpsAttachDeposit) -> None:
        self._check_attachable()

    def _check_attachable(self) -> None:
        if self.charge is None or self.psp != "stp":
            raise _refused(
                "Only a SPEI payment with a CLABE at STP takes deposits; this one's charge is "
                f"{'at ' + self.psp if self.charge else 'not created'}."
            )

    # ---- late payments -------------------------------------------------------------------

    @workflow.update
    async def ops_resolve_late_payment(self, request: OpsResolveLatePayment) -> int:
        """Refund, or keep, late money held for ops. Returns the centavos resolved."""
        async with self.lock:
            self._check_late(request)
            amount, self.held_late_money = self.held_late_money, 0
            self._set_flag("late_payment_held", False)
            detail = f"{request.operator}: {request.reason}"
            if request.action == "keep":
                await self._write_note(f"late payment of {amount} centavos kept; {detail}")
            else:
                await self._refund(
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
        self._check_late(request)

    def _check_late(self, request: OpsResolveLatePayment) -> None:
        if self.held_late_money <= 0:
            raise _refused("No late money is held for ops on this payment.")
        if request.action == "refund" and not can_refund(self.psp, self.payment.method):
            raise _refused(
                f"{self.psp} cannot refund {self.payment.method} payments: return "
                f"the money outside cobro, then resolve with action 'keep'."
            )

    def _check_payable(self, what: str) -> None:
        if self.status not in PAYABLE and self.status != PaymentStatus.PROCESSING:
            raise _refused(
                f"Only a payment that is still open can be {what}; this one is {self.status}."
            )
