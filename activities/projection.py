"""Projection activities: mirror the workflow's state into PostgreSQL, which the API reads, and
count what each newly recorded event means (cobro/business_metrics.py)."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity

from activities.merchant_webhooks import MerchantWebhookActivities
from cobro.activity_api import TransitionBatch
from cobro.business_metrics import BusinessMetrics
from cobro.db import payments_repo, refunds_repo
from cobro.domain.payment import RefundRecord, Transition

log = logging.getLogger("cobro.projection")


class ProjectionActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        webhooks: MerchantWebhookActivities,
        metrics: BusinessMetrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._webhooks = webhooks
        self._metrics = metrics or BusinessMetrics()

    async def _record(self, batch: TransitionBatch) -> None:
        # Idempotent: transitions on (payment, seq), the merchant event on its id. One
        # transaction for both: a payment's every transition costs one commit, not two.
        recorded = []
        deliveries: list[tuple[str, str]] = []
        async with self._sessions.begin() as session:
            for transition in batch.transitions:
                payment = await payments_repo.record_transition(session, transition)
                if payment is not None:
                    recorded.append((transition, *payment))
            if batch.publish is not None:
                deliveries = await self._webhooks.store(session, batch.publish)
        for t, method, psp in recorded:  # counted once committed
            self._metrics.transition_recorded(t, method, psp)
            log.info(
                "%s #%s %s: %s -> %s (%s)",
                t.payment_id,
                t.seq,
                t.kind,
                t.from_status,
                t.to_status,
                t.source,
                extra={"payment_id": t.payment_id},
            )
        if batch.publish is not None:
            await self._webhooks.enqueue(batch.publish, deliveries)

    @activity.defn(name="record_transition")
    async def record_transition(self, transition: Transition) -> None:
        await self._record(TransitionBatch(transitions=[transition]))

    @activity.defn(name="record_transitions")
    async def record_transitions(self, batch: TransitionBatch) -> None:
        await self._record(batch)

    @activity.defn(name="record_refund")
    async def record_refund(self, refund: RefundRecord) -> None:
        async with self._sessions.begin() as session:
            await refunds_repo.upsert(session, refund)
