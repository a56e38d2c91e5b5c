"""The one way a stored PSP event reaches its payment's workflow.

A webhook is acknowledged once it is stored (its 2xx must not wait for Temporal). The forwarder
then hands the row's `event` to the workflow: at once for a fresh webhook (`submit`), and from
a sweep every few seconds for whatever is still pending (Temporal was down, the process died,
the PSP had not confirmed yet). Both paths run `process`, so they forward the same thing.

An event the PSP must confirm first (STP: unsigned notifications) has no `event` until its
confirmer builds one from the PSP's own answer; until then it is asked again with backoff,
for at most CONFIRM_WINDOW, and a contradicted one is rejected and kept for ops. The workflow
drops duplicates by event id, so forwarding twice (a crash between signal and mark, a fresh
webhook forwarded by its API while another API's sweep finds it) is harmless. With several API
processes, one sweeps at a time (a PostgreSQL advisory lock per sweep): the others would only
send the same signals again and ask STP the same questions, counting its attempts twice.
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.problems import DATABASE_ERRORS
from cobro.db import inbox_repo
from cobro.db.models import WebhookInbox
from cobro.domain.ids import workflow_id
from cobro.domain.payment import PspEvent
from cobro.logs import bind_ids
from cobro.psp.inbound import ConfirmationDenied, Confirmer, MalformedWebhook, NotConfirmedYet
from workflows.payment import PaymentWorkflow

log = logging.getLogger("cobro.forwarder")
SWEEP_EVERY_S = 2.0
# How long a notification may wait for its PSP's confirmation before ops get it instead.
CONFIRM_WINDOW = timedelta(hours=24)
CONFIRM_BACKOFF_MAX_S = 300.0


class Outcome(StrEnum):
    FORWARDED = "forwarded"
    KEPT_FOR_OPS = "kept_for_ops"  # the payment's workflow has closed
    NOT_FORWARDED_YET = "not_forwarded_yet"  # Temporal or the database failed: swept again
    NOT_CONFIRMED_YET = "not_confirmed_yet"  # the PSP must confirm it first: asked again
    REJECTED = "rejected"  # the PSP denies it: never forwarded


@dataclass(frozen=True)
class InboxItem:
    """What the forwarder needs of an inbox row (read once, forwarded as often as needed)."""

    row_id: int
    psp: str
    payment_id: str
    raw_body: bytes
    received_at: datetime
    confirm_attempts: int
    event: PspEvent | None  # None: not confirmed yet

    @classmethod
    def of(cls, row: WebhookInbox) -> "InboxItem":
        assert row.payment_id is not None
        return cls(
            row.id,
            row.psp,
            row.payment_id,
            row.raw_body,
            row.received_at,
            row.confirm_attempts,
            PspEvent.model_validate(row.event) if row.event is not None else None,
        )


def confirm_backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(SWEEP_EVERY_S * 2**attempts, CONFIRM_BACKOFF_MAX_S))


class Forwarder:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        temporal: Client,
        confirmers: Mapping[str, Confirmer],
    ) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._confirmers = confirmers
        self._tasks: set[asyncio.Task[Outcome]] = set()

    def submit(self, item: InboxItem) -> None:
        """Forward in the background (the webhook has been answered)."""
        task = asyncio.create_task(self.process(item))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def process(self, item: InboxItem) -> Outcome:
        with bind_ids(payment_id=item.payment_id, workflow_id=workflow_id(item.payment_id)):
            return await self._process(item)

    async def _process(self, item: InboxItem) -> Outcome:
        event = item.event
        if event is None:
            try:
                event = await self._confirm(item)
            except (NotConfirmedYet, ConfirmationDenied, *DATABASE_ERRORS) as exc:
                return await self._not_confirmed(item, exc)
            except MalformedWebhook as exc:  # the body was erased (privacy) or is unreadable
                return await self._not_confirmed(item, ConfirmationDenied(str(exc)))
        return await self._forward(item, event)

    async def _confirm(self, item: InboxItem) -> PspEvent:
        confirmer = self._confirmers.get(item.psp)
        if confirmer is None:
            raise NotConfirmedYet(f"{item.psp} is not enabled in this process")
        event = await confirmer.confirm(item.raw_body)
        async with self._sessions.begin() as session:
            await inbox_repo.set_confirmed(session, item.row_id, event.model_dump(mode="json"))
        return event

    async def _not_confirmed(self, item: InboxItem, exc: Exception) -> Outcome:
        now = datetime.now(UTC)
        expired = now - item.received_at > CONFIRM_WINDOW
        try:
            async with self._sessions.begin() as session:
                if isinstance(exc, ConfirmationDenied) or expired:
                    reason = f"{item.psp} did not confirm it" + (
                        f" within {CONFIRM_WINDOW}" if expired else ""
                    )
                    await inbox_repo.reject(session, item.row_id, f"{reason}: {exc}")
                    log.error("%s event row %s rejected: %s", item.psp, item.row_id, exc)
                    return Outcome.REJECTED
                after = now + confirm_backoff(item.confirm_attempts)
                await inbox_repo.confirm_later(session, item.row_id, after)
        except DATABASE_ERRORS as db_exc:  # the sweep finds the row again when it is due
            log.warning("could not record row %s's confirmation: %r", item.row_id, db_exc)
        log.warning("%s event row %s not confirmed yet: %s", item.psp, item.row_id, exc)
        return Outcome.NOT_CONFIRMED_YET

    async def _forward(self, item: InboxItem, event: PspEvent) -> Outcome:
        outcome = Outcome.FORWARDED
        try:
            await self._temporal.get_workflow_handle(workflow_id(item.payment_id)).signal(
                PaymentWorkflow.psp_event, event
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                log.warning(
                    "event %s for %s not forwarded yet: %s", event.event_id, item.payment_id, exc
                )
                return Outcome.NOT_FORWARDED_YET
            log.warning(
                "event %s for closed payment %s kept for ops", event.event_id, item.payment_id
            )
            outcome = Outcome.KEPT_FOR_OPS
        try:
            async with self._sessions.begin() as session:
                await inbox_repo.mark_forwarded(session, item.row_id)
        except DATABASE_ERRORS as exc:  # forwarded but not marked: the sweep resends it
            log.warning("could not mark event %s forwarded: %r", event.event_id, exc)
        return outcome

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                async with self._sessions.begin() as turn:  # held while this process sweeps
                    if await inbox_repo.take_sweep_turn(turn):
                        await self.sweep()
            except DATABASE_ERRORS as exc:
                log.warning("inbox sweep failed: %r", exc)

    async def sweep(self) -> None:
        """Process what is still to forward (older than one sweep interval: a fresh webhook is
        its receiver's to forward)."""
        cutoff = datetime.now(UTC) - timedelta(seconds=SWEEP_EVERY_S)
        async with self._sessions() as session:
            rows = await inbox_repo.unforwarded(session, cutoff)
        for row in rows:
            try:
                await self.process(InboxItem.of(row))
            except Exception:  # one bad row must not stop every other payment's events
                log.exception("inbox row %s could not be processed", row.id)

    async def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
