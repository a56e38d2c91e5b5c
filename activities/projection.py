"""Projection activities: mirror the workflow's state into PostgreSQL, which the API reads."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from cobro.db import payments_repo, refunds_repo
from cobro.domain.payment import RefundRecord, Transition


class ProjectionActivities:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> None:
        # Idempotent on (payment, seq): a retried activity writes nothing twice.
        async with self._sessions.begin() as session:
            await payments_repo.record_transition(session, transition)

    @activity.defn(name="record_refund")
    async def record_refund(self, refund: RefundRecord) -> None:
        async with self._sessions.begin() as session:
            await refunds_repo.upsert(session, refund)
