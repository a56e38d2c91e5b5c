"""How PaymentWorkflow creates the PSP charge: down the merchant's routing list, failing over
when a PSP keeps failing, voiding what a PSP we left may hold, and waiting for ops to retry
when every PSP was unavailable. Mixed into PaymentWorkflow."""

from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from activities.psp import ChargeRequest, OrphanLookup, PspActivities
    from cobro import search_attributes as sa
    from cobro.domain.lifecycle import Event
    from cobro.domain.payment import ChargeCreated, CreateOutcome
    from cobro.domain.status import EventSource, PaymentStatus
    from workflows.activity_failures import (
        ACTIVITY_FAILURES,
        cause_of,
        failure_reason,
        is_rejection,
    )
    from workflows.payment_ops import OpsRetryCreation
    from workflows.payment_records import PaymentRecords

S = PaymentStatus
PSP_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=["PspRejected"],
)


class ChargeCreation(PaymentRecords):
    # Set by PaymentWorkflow.__init__.
    charge: ChargeCreated | None
    psp: str
    orphan_cleanups: list[Any]
    outcome: CreateOutcome | None
    awaiting_retry: bool
    retry_request: OpsRetryCreation | None

    async def _create_charge(self) -> ChargeCreated | None:
        """Create the charge down the routing list. When every PSP was unavailable, the payment
        stays `pending` for the ops retry window (`ops_retry_creation`), then fails."""
        expires_at = workflow.now() + timedelta(seconds=self.payment.expires_in)
        psps = self.payment.psps
        while True:
            result = await self._create_down(psps, expires_at)
            if isinstance(result, ChargeCreated):
                return result
            reason, rejected = result
            retry = None if rejected else await self._await_ops_retry(reason, expires_at)
            if retry is None:
                break
            psps = [retry.psp] if retry.psp else self.payment.psps
            async with self.lock:
                await self._write(
                    "failover",
                    S.PENDING,
                    EventSource.OPS,
                    f"{retry.operator}: {retry.reason}; retrying creation at {', '.join(psps)}",
                )
        if self.status != S.PENDING:  # ops ended it (force expire) while it waited
            self.outcome = CreateOutcome(status=self._current())
            return None
        async with self.lock:
            await self._apply(
                Event.CHARGE_REJECTED,
                EventSource.API,
                f"{self.psp} did not create the charge",
                failure_reason=reason,
            )
        self.outcome = CreateOutcome(status=S.FAILED, failure_reason=reason)
        return None

    async def _await_ops_retry(self, reason: str, expires_at: datetime) -> OpsRetryCreation | None:
        """Every PSP was unavailable: wait for ops to retry creation, until the retry window
        ends or the payment would have expired anyway. None: give up."""
        window = timedelta(seconds=self.payment.timings.create_retry_window)
        deadline = min(workflow.now() + window, expires_at)
        if deadline <= workflow.now():
            return None
        self._set_flag("creation_failed", True)
        async with self.lock:
            await self._write(
                "failover",
                S.PENDING,
                EventSource.API,
                f"no PSP created the charge ({reason}); ops can retry until {deadline.isoformat()}",
                failed_psp=self.psp,
            )
        workflow.set_current_details(
            f"**No PSP created the charge** ({reason}). Waiting until {deadline.isoformat()} "
            f"for ops to retry (update `ops_retry_creation`); then the payment fails."
        )
        self.awaiting_retry = True
        try:
            await workflow.wait_condition(
                lambda: self.retry_request is not None or self.status != S.PENDING,
                timeout=deadline - workflow.now(),
                timeout_summary="ops retry window",
            )
        except TimeoutError:
            pass
        finally:
            self.awaiting_retry = False
            self._set_flag("creation_failed", False)
        request, self.retry_request = self.retry_request, None
        return request

    async def _create_down(
        self, psps: list[str], expires_at: datetime
    ) -> ChargeCreated | tuple[str, bool]:
        """The charge from the first PSP that is up, failing over down `psps`; else why the
        last one failed and whether it rejected the payment."""
        payment = self.payment
        for index, psp in enumerate(psps):
            self.psp = psp
            workflow.set_current_details(f"Creating the {payment.method} charge at {psp}.")
            try:
                charge = await self._create_at(psp, expires_at)
            except ACTIVITY_FAILURES as err:
                reason = failure_reason(err)
                rejected = is_rejection(err)
                if not rejected:  # the outcome is unknown: a charge may exist there
                    self._void_orphans_at(psp)
                if rejected or index == len(psps) - 1:
                    return reason, rejected
                self._set_flag("failover", True)
                async with self.lock:
                    await self._write(
                        "failover",
                        S.PENDING,
                        EventSource.API,
                        f"{psp} is unavailable ({reason}); failing over to {psps[index + 1]}",
                        failed_psp=psp,
                    )
                continue
            self.charge = charge
            if not self.batched:
                workflow.upsert_search_attributes([sa.PSP.value_set(psp)])
            async with self.lock:
                await self._apply(
                    Event.CHARGE_CREATED,
                    EventSource.API,
                    f"{psp} charge {charge.psp_reference} created",
                    psp=psp,
                    psp_reference=charge.psp_reference,
                    psp_customer_reference=charge.customer_reference,
                    instructions=charge.instructions,
                    expires_at=charge.expires_at,
                )
            self.outcome = CreateOutcome(
                status=S.AWAITING_PAYMENT,
                psp_reference=charge.psp_reference,
                instructions=charge.instructions,
                expires_at=charge.expires_at,
            )
            return charge
        raise ApplicationError("the payment has no PSP to try", non_retryable=True)

    async def _create_at(self, psp: str, expires_at: datetime) -> ChargeCreated:
        """Create the charge at one PSP, retrying until it answers, rejects it, or keeps failing
        for the failover window. Only the PSP's failures count toward that window: a worker
        that died mid-call (heartbeat timeout) is retried at once, since a dead worker is not a
        dead PSP."""
        failing_since: datetime | None = None
        backoff = PSP_RETRY.initial_interval
        while True:
            request = ChargeRequest(payment=self.payment, psp=psp, expires_at=expires_at)
            summary = f"create {self.payment.method} charge at {psp}"
            try:
                if self.batched:
                    # A local activity: no task-queue round trip, and a create answered within
                    # the first workflow task. A worker lost mid-call fails that workflow task,
                    # which the next worker runs again (the create is idempotent).
                    return await workflow.execute_local_activity_method(
                        PspActivities.create_charge,
                        request,
                        summary=summary,
                        start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=RetryPolicy(maximum_attempts=1),  # retried here, see above
                    )
                charge: ChargeCreated = await workflow.execute_activity_method(
                    PspActivities.create_charge,
                    request,
                    summary=summary,
                    start_to_close_timeout=timedelta(seconds=30),
                    heartbeat_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(maximum_attempts=1),  # retried here, see above
                )
                return charge
            except ACTIVITY_FAILURES as err:
                cause = cause_of(err)
                if isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.HEARTBEAT:
                    continue
                if is_rejection(err):
                    raise
                failing_since = failing_since or workflow.now()
                failing_for = workflow.now() - failing_since
                if failing_for >= timedelta(seconds=self.payment.timings.failover_after):
                    raise
                workflow.set_current_details(
                    f"{psp} is failing ({failure_reason(err)}); retrying in {backoff}, failing "
                    f"over after {self.payment.timings.failover_after} s of failures."
                )
                await workflow.sleep(backoff, summary=f"back off before retrying {psp}")
                assert PSP_RETRY.maximum_interval is not None
                backoff = min(backoff * 2, PSP_RETRY.maximum_interval)

    def _void_orphans_at(self, psp: str) -> None:
        """In the background, until that PSP answers: void any charge it made for us."""
        self.orphan_cleanups.append(
            workflow.start_activity_method(
                PspActivities.void_orphan_charges,
                OrphanLookup(psp=psp, payment_id=self.payment.payment_id),
                summary=f"void any charge left at {psp}",
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            )
        )
