"""The reconciliation activity: read every PSP's report, compare, store per PSP, flag mismatches."""

from collections import Counter
from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio import activity
from temporalio.client import Client
from temporalio.service import RPCError

from cobro import reconciliation
from cobro.activity_api import DaySummary, ReconcileDay
from cobro.business_metrics import BusinessMetrics
from cobro.domain.ids import workflow_id


class ReportUnavailable(Exception):
    """A PSP's report could not be read: the activity fails and Temporal retries it."""


class ReconciliationActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        readers: Mapping[str, reconciliation.ReportReader],
        client: Client,
        metrics: BusinessMetrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._readers = readers
        self._client = client
        self._metrics = metrics or BusinessMetrics()

    @activity.defn(name="reconcile_day")
    async def reconcile_day(self, request: ReconcileDay) -> DaySummary:
        # Every report is read before anything is stored: a PSP that cannot be read fails the
        # attempt (retried), rather than leaving its payments unreconciled in a finished day.
        reports: dict[str, reconciliation.Lines] = {}
        for psp, read in sorted(self._readers.items()):
            try:
                reports[psp] = await read(request.day)
            except Exception as exc:
                raise ReportUnavailable(
                    f"{psp} settlement report for {request.day}: {exc!r}"
                ) from exc
        by_psp: dict[str, dict[str, int]] = {}
        mismatched: set[str] = set()
        async with self._sessions.begin() as session:
            for psp, lines in reports.items():
                items = await reconciliation.reconcile(session, psp, request.day, lines)
                by_psp[psp] = dict(Counter(i.result for i in items))
                mismatched |= {
                    i.payment_id for i in items if i.result != "matched" and i.payment_id
                }
        for psp, counts in by_psp.items():  # counted once stored (cobro_reconciliation_lines)
            self._metrics.reconciled(psp, counts)
        for payment_id in sorted(mismatched):  # ops find them with PaymentFlags = '...'
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
            counts=dict(sum((Counter(c) for c in by_psp.values()), Counter())),
            mismatched_payments=sorted(mismatched),
            by_psp=by_psp,
        )
