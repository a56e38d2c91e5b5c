"""What a payment waits for: its PSP's events (signals, and polls when none arrive) until it
is paid or its expiry passes, then, once it ended, refunds and late money for as long as their
windows last."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from cobro import activity_api as api
    from cobro.domain import money
    from cobro.domain.lifecycle import Event
    from cobro.domain.methods import can_be_partly_paid
    from cobro.domain.payment import ChargeCreated, PspEvent
    from cobro.domain.payment_state import REFUNDABLE, WAITING, PaymentState
    from cobro.domain.payment_steps import Step
    from cobro.domain.status import PAYABLE, EventSource, PaymentStatus

from workflows.activity_options import (
    ACTIVITY_FAILURES,
    PSP_QUEUE_TIMEOUTS,
    PSP_TIMEOUTS,
    failure_reason,
)
from workflows.refunds import Refunds

S = PaymentStatus


class Waiting:
    def __init__(
        self,
        state: PaymentState,
        lock: asyncio.Lock,
        refunds: Refunds,
        do: Callable[[list[Step]], Awaitable[None]],
    ) -> None:
        self.state = state
        self.lock = lock
        self.refunds = refunds
        self.do = do
        # PSP events with the workflow time they arrived, waiting to be applied in order.
        self.inbox: list[tuple[datetime, PspEvent]] = []
        # PSP webhooks this payment took in, duplicates included, over all its runs: a client
        # addresses the payment's workflow id, whichever run it is now.
        resume = state.payment.resume
        self.signals_received = resume.psp_signals_received if resume is not None else 0

    def receive(self, event: PspEvent) -> None:
        """A PSP webhook; duplicates (same event id) are dropped here."""
        self.signals_received += 1
        if self.state.first_sight(event.event_id):
            self.inbox.append((workflow.now(), event))

    async def await_payment(self, charge: ChargeCreated) -> None:
        timings = self.state.payment.timings
        deadline = charge.expires_at + timedelta(seconds=timings.grace)
        # When to check and void at the latest once the deadline passed (Timings.expiry_spread);
        # any news or status check after the deadline does it at once.
        act_at = deadline
        if timings.expiry_spread:
            spread = workflow.random().uniform(0, timings.expiry_spread)
            act_at = deadline + timedelta(seconds=spread)
        poll_every = timedelta(seconds=timings.poll_after)
        next_poll = workflow.now() + poll_every
        while self.state.status in WAITING:
            now = workflow.now()
            due = now >= act_at or bool(self.inbox) or now >= next_poll
            if self.state.status in PAYABLE and now >= deadline and due:
                if not await self._expire(charge, deadline):
                    await workflow.sleep(poll_every)  # the PSP did not answer: ask again later
            elif self.inbox:
                await self.drain()
                poll_every = timedelta(seconds=timings.poll_after)  # news: reset the backoff
                next_poll = workflow.now() + poll_every
            elif now >= next_poll:  # no news for a while: a webhook may be lost
                await self._poll_if_answered(charge)
                poll_every = min(poll_every * 2, timedelta(seconds=timings.poll_max_interval))
                next_poll = workflow.now() + poll_every
            else:
                payable = self.state.status in PAYABLE
                wake_at = min(next_poll, act_at) if payable else next_poll
                self._show_waiting(charge, deadline, next_poll)
                try:
                    await workflow.wait_condition(
                        lambda: bool(self.inbox) or self.state.status not in WAITING,
                        timeout=wake_at - now,
                        timeout_summary="expiry or PSP status check",
                    )
                except TimeoutError:
                    pass

    def _show_waiting(self, charge: ChargeCreated, deadline: datetime, next_poll: datetime) -> None:
        payment = self.state.payment
        workflow.set_current_details(
            f"Waiting for the customer to pay **{money.format_amount(payment.amount)}** by "
            f"{payment.method} (received {money.format_pesos(self.state.amount_received)}). "
            f"Expires {charge.expires_at.isoformat()}, grace until {deadline.isoformat()}; "
            f"next PSP status check {next_poll.isoformat()}."
        )

    async def _expire(self, charge: ChargeCreated, deadline: datetime) -> bool:
        """Expire the payment unless the PSP says it was paid; False when the PSP did not
        answer a status check, so nothing was decided and the caller asks again later."""
        state = self.state
        # Events that came in time still count; later ones are late money, applied after.
        await self.drain(arrived_before=deadline)
        # A lost webhook must not expire a paid voucher, nor a lost partial deposit go
        # unreturned: ask the PSP before giving up. Not for a charge paid in full or not at all
        # (history version 5): no PSP voids a paid OXXO voucher, so voiding first never expires
        # a paid one, and a voided voucher can no longer be paid. One PSP call instead of two.
        if not self._voids_first() and not await self._poll_if_answered(charge):
            return False
        if state.status not in PAYABLE:
            return True
        try:
            await self.void_charge(charge)
        except ActivityError:  # the PSP refused to void it: it was probably paid (its news lost)
            if not await self._poll_if_answered(charge):
                return False
            if state.status not in PAYABLE:
                return True
        async with self.lock:
            if state.status not in PAYABLE:
                return True
            detail = (
                f"not paid by {charge.expires_at.isoformat()} + {state.payment.timings.grace} s "
                f"grace; charge voided at {state.psp}"
            )
            await self.do(
                state.apply(Event.TIMER_EXPIRED, EventSource.TIMER, detail, workflow.now())
            )
            await self.do(state.return_partial_money(EventSource.TIMER, workflow.now()))
        return True

    async def stay_open(
        self, until: datetime | None = None, quiet_for: timedelta | None = None
    ) -> bool:
        """Accept refunds after success; catch late money after expiry or cancellation; and
        follow every refund the PSP left pending until it ends, even past the window (a
        continued run resumes it `until` its end). With `quiet_for` (history version 3): True
        as soon as the payment has been quiet that long, with no refund in flight, so that the
        caller continues as new; False once the window closed."""
        state, refunds = self.state, self.refunds
        timings = state.payment.timings
        if state.status in REFUNDABLE or (until is not None and state.status == S.REFUNDED):
            # (a continued run that was fully refunded still waits out its window: late money
            # and a refund the PSP fails later still need a running workflow)
            window, purpose = timings.refund_window, "refunds"
        elif state.charge is not None and state.status != S.REFUNDED:
            window, purpose = timings.late_window, "late payments"
        else:
            return False
        close_at = until or workflow.now() + timedelta(seconds=window)
        quiet_since, seen_seq = workflow.now(), state.seq
        while True:
            now = workflow.now()
            if state.seq != seen_seq:  # something happened: quiet again from now
                quiet_since, seen_seq = now, state.seq
            # Only ever set under the FOLLOW_REFUNDS patch: earlier histories wait as before.
            if refunds.poll_at is not None and now >= refunds.poll_at:
                await refunds.poll()
                continue
            if now >= close_at and refunds.poll_at is None:
                return False
            quiet_until = quiet_since + quiet_for if quiet_for is not None else None
            if quiet_until is not None and now >= quiet_until:
                if not refunds.pending and not self.inbox:
                    return True
            wake_at, summary = close_at, f"{purpose} window"
            poll_at = refunds.poll_at
            if poll_at is not None and (now >= close_at or poll_at < close_at):
                wake_at, summary = poll_at, "refund status check"
            if quiet_until is not None and now < quiet_until < wake_at:
                wake_at, summary = quiet_until, "quiet before continuing as new"
            workflow.set_current_details(
                f"**{state.status}**; open for {purpose} until {close_at.isoformat()}."
                + refunds.waiting()
            )
            refunds.news = False
            try:
                await workflow.wait_condition(
                    lambda seen=seen_seq: (
                        bool(self.inbox)  # type: ignore[misc]
                        or refunds.news
                        or (quiet_for is not None and state.seq != seen)
                    ),
                    timeout=wake_at - now,
                    timeout_summary=summary,
                )
            except TimeoutError:
                if refunds.poll_at is None and quiet_for is None:
                    return False
                continue
            await self.drain()

    async def refund_window(self, nothing_else_runs: Callable[[], bool]) -> None:
        """A succeeded payment (history version 3): once quiet for a while, continue as new
        with its state alone (no customer data, no inbox), a short history for the months
        refunds stay possible. Not while voids at PSPs we failed over from still run
        (`nothing_else_runs` is False): then this run stays open for the whole window."""
        state, payment = self.state, self.state.payment
        close_at = workflow.now() + timedelta(seconds=payment.timings.refund_window)
        quiet = timedelta(seconds=payment.timings.quiet_before_continuing)
        while await self.stay_open(until=close_at, quiet_for=quiet):
            await workflow.wait_condition(workflow.all_handlers_finished)
            if self.inbox or self.refunds.pending or self.lock.locked():
                continue  # news came in meanwhile: quiet again first
            if not nothing_else_runs():
                await self.stay_open(until=close_at)
                return
            refunds = list(self.refunds.records.values())
            snapshot = state.snapshot(refunds, close_at, self.signals_received)
            slim: dict[str, object] = {"customer": None, "description": None, "metadata": {}}
            workflow.continue_as_new(
                payment.model_copy(
                    update={**slim, "crypto": None, "private": None, "resume": snapshot}
                )
            )

    async def drain(self, arrived_before: datetime | None = None) -> None:
        async with self.lock:
            while self.inbox and (arrived_before is None or self.inbox[0][0] < arrived_before):
                await self.apply(self.inbox.pop(0)[1])

    async def check(self, charge: ChargeCreated) -> PspEvent:
        """The charge's state at the PSP, as a status-check event."""
        event: PspEvent = await workflow.execute_activity(
            api.get_charge,
            self.lookup(charge),
            summary=f"check {charge.psp_reference} at {self.state.psp}",
            **self._psp_call_options(),
        )
        return event.model_copy(update={"source": EventSource.PSP_POLL})

    async def poll(self, charge: ChargeCreated) -> None:
        event = await self.check(charge)
        if self.state.first_sight(event.event_id):
            async with self.lock:
                await self.apply(event)

    async def _poll_if_answered(self, charge: ChargeCreated) -> bool:
        """Poll; False when the PSP did not answer within the call's retries (down, or a long
        turn on its rate-limited queue). A workflow must outlive that, never fail on it: a
        failed workflow would leave the voucher payable with nobody to receive the money."""
        try:
            await self.poll(charge)
        except ACTIVITY_FAILURES as err:
            workflow.logger.warning(
                "status check at %s failed: %s", self.state.psp, failure_reason(err)
            )
            return False
        return True

    async def apply(self, event: PspEvent) -> None:
        if event.kind == "refund":
            await self.refunds.on_event(event)
        else:
            await self.do(self.state.on_psp_event(event, workflow.now()))

    async def void_charge(self, charge: ChargeCreated) -> None:
        await workflow.execute_activity(
            api.cancel_charge,
            self.lookup(charge),
            summary=f"void {charge.psp_reference} at {self.state.psp}",
            **self._psp_call_options(),
        )

    def _voids_first(self) -> bool:
        """History version 5: a charge paid in full or not at all (an OXXO voucher) is voided
        at expiry before any status check; one that can be partly paid is checked first."""
        payment = self.state.payment
        return payment.history_version >= 5 and not can_be_partly_paid(payment.method)

    def _psp_call_options(self) -> dict[str, Any]:
        """History version 4: status checks and voids go to the PSP's own rate-limited task
        queue (api.psp_task_queue); before, to the workflow's own."""
        if self.state.payment.history_version >= 4:
            return {**PSP_QUEUE_TIMEOUTS, "task_queue": api.psp_task_queue(self.state.psp)}
        return PSP_TIMEOUTS

    def lookup(self, charge: ChargeCreated) -> api.ChargeLookup:
        return api.ChargeLookup(psp=self.state.psp, psp_reference=charge.psp_reference)
