"""Hands stored PSP events to their payment workflows, after the webhook has been answered.

A webhook is acknowledged once it is stored (its 2xx must not wait for Temporal); the signal is
sent right after, in the background. A sweep re-sends anything still unforwarded a few seconds
later (Temporal was down, the process died): the inbox row keeps the verified event, and the
workflow drops duplicates by event id, so sending twice is harmless.
"""

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from api.problems import DATABASE_ERRORS
from cobro.db import inbox_repo
from cobro.domain.ids import workflow_id
from cobro.domain.payment import PspEvent
from workflows.payment import PaymentWorkflow

log = logging.getLogger("cobro.forwarder")
SWEEP_EVERY_S = 2.0


class Forwarder:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], temporal: Client) -> None:
        self._sessions = sessions
        self._temporal = temporal
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, row_id: int, payment_id: str, event: PspEvent) -> None:
        task = asyncio.create_task(self._forward(row_id, payment_id, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _forward(self, row_id: int, payment_id: str, event: PspEvent) -> None:
        try:
            await self._temporal.get_workflow_handle(workflow_id(payment_id)).signal(
                PaymentWorkflow.psp_event, event
            )
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:
                log.warning(
                    "event %s for %s not forwarded yet: %s", event.event_id, payment_id, exc
                )
                return  # the sweep tries again
            log.warning("event %s for closed payment %s kept for ops", event.event_id, payment_id)
        try:
            async with self._sessions.begin() as session:
                await inbox_repo.mark_forwarded(session, row_id)
        except DATABASE_ERRORS as exc:  # forwarded but not marked: the sweep resends it
            log.warning("could not mark event %s forwarded: %r", event.event_id, exc)

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_EVERY_S)
            try:
                cutoff = datetime.now(UTC) - timedelta(seconds=SWEEP_EVERY_S)
                async with self._sessions() as session:
                    rows = await inbox_repo.unforwarded(session, cutoff)
                for row in rows:
                    assert row.payment_id is not None and row.event is not None
                    await self._forward(row.id, row.payment_id, PspEvent.model_validate(row.event))
            except DATABASE_ERRORS as exc:
                log.warning("inbox sweep failed: %r", exc)

    async def close(self) -> None:
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
