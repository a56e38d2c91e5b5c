"""Projection activities: mirror the workflow's state into PostgreSQL, which the API reads."""

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from cobro.activity_api import TransitionBatch
from cobro.db import payments_repo, refunds_repo
from cobro.domain.merchant_events import MerchantEventInput
from cobro.domain.payment import RefundRecord, Transition


class ProjectionActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        publish: Callable[[MerchantEventInput], Awaitable[int]],
    ) -> None:
        self._sessions = sessions
        self._publish = publish

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> None:
        # Idempotent on (payment, seq): a retried activity writes nothing twice.
        async with self._sessions.begin() as session:
            await payments_repo.record_transition(session, transition)

    @activity.defn(name="record_transitions")
    async def record_transitions(self, batch: TransitionBatch) -> None:
        # Idempotent: transitions on (payment, seq), the merchant event on its id.
        async with self._sessions.begin() as session:
            for transition in batch.transitions:
                await payments_repo.record_transition(session, transition)
        if batch.publish is not None:
            await self._publish(batch.publish)

    @activity.defn(name="record_refund")
    async def record_refund(self, refund: RefundRecord) -> None:
        async with self._sessions.begin() as session:
            await refunds_repo.upsert(session, refund)
