"""Creating a payment's PSP charge: down the merchant's routing list, failing over when a PSP
keeps failing, voiding what a PSP we left may hold, and waiting for ops to retry when every PSP
was unavailable."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, TimeoutType
from temporalio.exceptions import TimeoutError as ActivityTimeout

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro import search_attributes as sa
    from cobro.domain.lifecycle import Event
    from cobro.domain.ops_requests import OpsRetryCreation
    from cobro.domain.payment import ChargeCreated, CreateOutcome
    from cobro.domain.payment_state import PaymentState
    from cobro.domain.payment_steps import Step
    from cobro.domain.status import EventSource, PaymentStatus

from workflows.activity_options import (
    ACTIVITY_FAILURES,
    PSP_RETRY,
    cause_of,
    failure_reason,
    is_rejection,
    rate_limit_delay,
)

S = PaymentStatus
# The give-up after 429s alone, when every call was turned away: no charge can exist there.
TURNED_AWAY = "PspRateLimitedThroughout"


def _only_turned_away(err: BaseException) -> bool:
    return isinstance(err, ApplicationError) and err.type == TURNED_AWAY


class ChargeCreation:
    def __init__(
        self,
        state: PaymentState,
        lock: asyncio.Lock,
        do: Callable[[list[Step]], Awaitable[None]],
        batched: bool,
    ) -> None:
        self.state = state
        self.lock = lock
        self.do = do
        self.batched = batched
        self.outcome: CreateOutcome | None = None  # what the `create` update answers
        self.awaiting_retry = False  # every PSP failed; ops may retry (ops_retry_creation)
        self.retry_request: OpsRetryCreation | None = None
        self.orphan_cleanups: list[Any] = []  # voids running at PSPs we left

    async def create(self) -> ChargeCreated | None:
        """Create the charge down the routing list. When every PSP was unavailable, the payment
        stays `pending` for the ops retry window (`ops_retry_creation`), then fails."""
        state = self.state
        expires_at = workflow.now() + timedelta(seconds=state.payment.expires_in)
        psps = state.payment.psps
        while True:
            result = await self._create_down(psps, expires_at)
            if isinstance(result, ChargeCreated):
                return result
            reason, rejected = result
            retry = None if rejected else await self._await_ops_retry(reason, expires_at)
            if retry is None:
                break
            psps = [retry.psp] if retry.psp else state.payment.psps
            detail = f"{retry.operator}: {retry.reason}; retrying creation at {', '.join(psps)}"
            await self._record_failover(EventSource.OPS, detail)
        if state.status != S.PENDING:  # ops ended it (force expire) while it waited
            self.outcome = CreateOutcome(status=state.current())
            return None
        async with self.lock:
            await self.do(
                state.apply(
                    Event.CHARGE_REJECTED,
                    EventSource.API,
                    f"{state.psp} did not create the charge",
                    workflow.now(),
                    failure_reason=reason,
                )
            )
        self.outcome = CreateOutcome(status=S.FAILED, failure_reason=reason)
        return None

    def check_retryable(self, request: OpsRetryCreation) -> str | None:
        """Why ops cannot retry creation now, or None."""
        payment = self.state.payment
        if not self.awaiting_retry or self.retry_request is not None:
            return (
                "Creation can be retried only while the payment waits for ops after every PSP "
                f"failed to create its charge (PaymentFlags = 'creation_failed'); this one is "
                f"{self.state.status}."
            )
        if request.psp is not None and request.psp not in payment.psps:
            return (
                f"{request.psp!r} is not on this merchant's route for {payment.method} "
                f"({', '.join(payment.psps)})."
            )
        return None

    async def _await_ops_retry(self, reason: str, expires_at: datetime) -> OpsRetryCreation | None:
        """Every PSP was unavailable: wait for ops to retry creation, until the retry window
        ends or the payment would have expired anyway. None: give up."""
        state = self.state
        window = timedelta(seconds=state.payment.timings.create_retry_window)
        deadline = min(workflow.now() + window, expires_at)
        if deadline <= workflow.now():
            return None
        await self.do([state.set_flag("creation_failed", True)])
        detail = f"no PSP created the charge ({reason}); ops can retry until {deadline.isoformat()}"
        await self._record_failover(EventSource.API, detail, failed_psp=state.psp)
        workflow.set_current_details(
            f"**No PSP created the charge** ({reason}). Waiting until {deadline.isoformat()} "
            f"for ops to retry (update `ops_retry_creation`); then the payment fails."
        )
        self.awaiting_retry = True
        try:
            await workflow.wait_condition(
                lambda: self.retry_request is not None or state.status != S.PENDING,
                timeout=deadline - workflow.now(),
                timeout_summary="ops retry window",
            )
        except TimeoutError:
            pass
        finally:
            self.awaiting_retry = False
            await self.do([state.set_flag("creation_failed", False)])
        request, self.retry_request = self.retry_request, None
        return request

    async def _create_down(
        self, psps: list[str], expires_at: datetime
    ) -> ChargeCreated | tuple[str, bool]:
        """The charge from the first PSP that is up, failing over down `psps`; else why the
        last one failed and whether it rejected the payment."""
        state = self.state
        for index, psp in enumerate(psps):
            state.psp = psp
            workflow.set_current_details(f"Creating the {state.payment.method} charge at {psp}.")
            try:
                charge = await self._create_at(psp, expires_at)
            except ACTIVITY_FAILURES as err:
                reason = failure_reason(err)
                rejected = is_rejection(err)
                # The outcome is unknown, so a charge may exist there, unless the PSP answered
                # nothing but 429s (requests it turned away) and no worker died mid-call.
                if not rejected and not _only_turned_away(err):
                    self._void_orphans_at(psp)
                if rejected or index == len(psps) - 1:
                    return reason, rejected
                detail = f"{psp} is unavailable ({reason}); failing over to {psps[index + 1]}"
                await self.do([state.set_flag("failover", True)])
                await self._record_failover(EventSource.API, detail, failed_psp=psp)
                continue
            state.charge = charge
            if not self.batched:
                workflow.upsert_search_attributes([sa.PSP.value_set(psp)])
            async with self.lock:
                await self.do(
                    state.apply(
                        Event.CHARGE_CREATED,
                        EventSource.API,
                        f"{psp} charge {charge.psp_reference} created",
                        workflow.now(),
                        psp=psp,
                        psp_reference=charge.psp_reference,
                        psp_customer_reference=charge.customer_reference,
                        instructions=charge.instructions,
                        expires_at=charge.expires_at,
                    )
                )
            self.outcome = CreateOutcome(
                status=S.AWAITING_PAYMENT,
                psp_reference=charge.psp_reference,
                instructions=charge.instructions,
                expires_at=charge.expires_at,
            )
            return charge
        raise ApplicationError("the payment has no PSP to try", non_retryable=True)

    async def _record_failover(
        self, source: EventSource, detail: str, failed_psp: str | None = None
    ) -> None:
        """A `failover` event: creation moves to another PSP, or waits for ops, or retries."""
        async with self.lock:
            record = self.state.record(
                "failover", S.PENDING, source, detail, workflow.now(), failed_psp=failed_psp
            )
            await self.do([record])

    async def _create_at(self, psp: str, expires_at: datetime) -> ChargeCreated:
        """Create the charge at one PSP, retrying until it answers, rejects it, or keeps failing
        for the failover window. Only the PSP's failures count toward that window (a 429 is the
        PSP asking us to slow down, not failing: it is retried here with backoff, until 429s
        alone have lasted `timings.rate_limited_for`; then it fails over): a worker
        that died mid-call (heartbeat timeout) is retried at once, since a dead worker is not a
        dead PSP."""
        payment = self.state.payment
        failing_since: datetime | None = None
        limited_since: datetime | None = None
        maybe_made = False  # a call that may have reached the PSP and made a charge
        backoff = PSP_RETRY.initial_interval
        while True:
            request = api.ChargeRequest(payment=payment, psp=psp, expires_at=expires_at)
            summary = f"create {payment.method} charge at {psp}"
            try:
                if self.batched:
                    # A local activity: no task-queue round trip, and a create answered within
                    # the first workflow task. A worker lost mid-call fails that workflow task,
                    # which the next worker runs again (the create is idempotent).
                    return await workflow.execute_local_activity(
                        api.create_charge,
                        request,
                        summary=summary,
                        start_to_close_timeout=timedelta(seconds=30),
                        retry_policy=RetryPolicy(maximum_attempts=1),  # retried here, see above
                    )
                return await workflow.execute_activity(
                    api.create_charge,
                    request,
                    summary=summary,
                    start_to_close_timeout=timedelta(seconds=30),
                    heartbeat_timeout=timedelta(seconds=5),
                    retry_policy=RetryPolicy(maximum_attempts=1),  # retried here, see above
                )
            except ACTIVITY_FAILURES as err:
                cause = cause_of(err)
                if isinstance(cause, ActivityTimeout) and cause.type == TimeoutType.HEARTBEAT:
                    maybe_made = True
                    continue
                if is_rejection(err):
                    raise
                slow_down = rate_limit_delay(err)
                if slow_down is not None:
                    limited_since = limited_since or workflow.now()
                    give_up = timedelta(seconds=payment.timings.rate_limited_for)
                    if give_up and workflow.now() - limited_since >= give_up:
                        # Slowing down did not help for that long: as good as down.
                        raise ApplicationError(
                            f"{psp} kept answering 429 (rate limited) for "
                            f"{payment.timings.rate_limited_for} s",
                            type="PspRateLimited" if maybe_made else TURNED_AWAY,
                        ) from err
                    # A 429 means the PSP is up and busy: back off (at least its Retry-After)
                    # and retry it; it never counts toward the failover window. Jittered, so
                    # the payments it turned away do not all come back in the same second.
                    jittered = backoff * (0.5 + workflow.random().random())
                    wait = max(jittered, slow_down)
                    workflow.set_current_details(
                        f"{psp} is rate limiting us ({failure_reason(err)}); retrying in {wait}."
                    )
                    await workflow.sleep(wait, summary=f"{psp} asked us to slow down")
                    assert PSP_RETRY.maximum_interval is not None
                    backoff = min(backoff * 2, PSP_RETRY.maximum_interval)
                    continue
                maybe_made = True
                failing_since = failing_since or workflow.now()
                failing_for = workflow.now() - failing_since
                if failing_for >= timedelta(seconds=payment.timings.failover_after):
                    raise
                workflow.set_current_details(
                    f"{psp} is failing ({failure_reason(err)}); retrying in {backoff}, failing "
                    f"over after {payment.timings.failover_after} s of failures."
                )
                await workflow.sleep(backoff, summary=f"back off before retrying {psp}")
                assert PSP_RETRY.maximum_interval is not None
                backoff = min(backoff * 2, PSP_RETRY.maximum_interval)

    def _void_orphans_at(self, psp: str) -> None:
        """In the background, until that PSP answers: void any charge it made for us."""
        self.orphan_cleanups.append(
            workflow.start_activity(
                api.void_orphan_charges,
                api.OrphanLookup(psp=psp, payment_id=self.state.payment.payment_id),
                summary=f"void any charge left at {psp}",
                start_to_close_timeout=timedelta(seconds=30),
                schedule_to_close_timeout=timedelta(days=1),
                retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=5)),
            )
        )
