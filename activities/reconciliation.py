"""The reconciliation activity: fetch each PSP's report, compare, store, flag mismatches."""

from collections import Counter
from datetime import date

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from cobro import reconciliation
from cobro.domain.ids import workflow_id
from cobro.psp.stripe.client import StripeClient


class ReconcileDay(BaseModel):
    day: date


class DaySummary(BaseModel):
    day: date
    counts: dict[str, int]
    mismatched_payments: list[str]


class ReconciliationActivities:
    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], stripe: StripeClient, client: Client
    ) -> None:
        self._sessions = sessions
        self._stripe = stripe
        self._client = client

    @activity.defn(name="reconcile_day")
    async def reconcile_day(self, request: ReconcileDay) -> DaySummary:
        psp_lines = await reconciliation.stripe_lines(self._stripe, request.day)
        async with self._sessions.begin() as session:
            items = await reconciliation.reconcile(session, "stripe", request.day, psp_lines)
        mismatched = sorted(
            {i.payment_id for i in items if i.result != "matched" and i.payment_id is not None}
        )
        for payment_id in mismatched:  # ops find them with PaymentFlags = '...'
            try:
                await self._client.get_workflow_handle(workflow_id(payment_id)).signal(
                    "reconciliation_mismatch", str(request.day)
                )
            except RPCError:
                activity.logger.info(
                    "payment %s has closed; its mismatch stays in the report", payment_id
                )
        return DaySummary(
            day=request.day,
            counts=dict(Counter(i.result for i in items)),
            mismatched_payments=mismatched,
        )
