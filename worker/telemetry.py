"""The worker's metrics endpoint, the flag gauges read from Temporal, and log ids in activities.

One endpoint, `http://COBRO_BIND_HOST:COBRO_WORKER_METRICS_PORT/metrics`, served by the
Temporal runtime's PrometheusConfig. Two other designs were possible and not taken:
prometheus-client on this port with the SDK's exporter on a second one (two scrape targets per
worker, two ports per replica to allocate), or the SDK's metrics drained from a MetricBuffer
into prometheus-client (a copy loop that loses updates when the buffer fills). Instead the
business metrics are instruments of the runtime's own meter (`Runtime.metric_meter`), made
once at start-up (cobro/business_metrics.py) and recorded by activities, so one exporter serves
both with the same conventions (seconds, `_total`).
"""

import asyncio
import logging
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.runtime import Runtime
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from cobro.business_metrics import PSP_BUCKETS, BusinessMetrics
from cobro.logs import bind_ids
from cobro.settings import Settings
from cobro.telemetry import metrics_runtime

log = logging.getLogger("cobro.worker")

# Every value PaymentFlags takes (cobro/domain/payment_state.py, workflows/refunds.py).
FLAGS = (
    "creation_failed",
    "failover",
    "late_payment_held",
    "reconciliation_mismatch",
    "refund_mismatch",
    "refund_outcome_unknown",
)
FLAG_GAUGES_EVERY_S = 60.0


def start_metrics(settings: Settings) -> tuple[Runtime, BusinessMetrics]:
    """The runtime every Temporal client of the worker must use, serving /metrics from now on
    (a port already taken stops the worker with that error)."""
    address = f"{settings.cobro_bind_host}:{settings.cobro_worker_metrics_port}"
    runtime = metrics_runtime(address, {"cobro_psp_request_duration_seconds": PSP_BUCKETS})
    metrics = BusinessMetrics(runtime.metric_meter, sorted(settings.enabled_psps))
    log.info("worker metrics on http://%s/metrics", address)
    return runtime, metrics


async def count_flagged_forever(client: Client, metrics: BusinessMetrics) -> None:
    """cobro_open_payments_flagged{flag}: open payments per PaymentFlags value (visibility is
    eventually consistent; every worker reports the same numbers, alerts take the max)."""
    while True:
        for flag in FLAGS:
            query = (
                "WorkflowType = 'PaymentWorkflow' AND ExecutionStatus = 'Running' "
                f"AND PaymentFlags = '{flag}'"
            )
            try:
                metrics.flagged(flag, (await client.count_workflows(query)).count)
            except Exception as exc:  # a stuck gauge would silence its alerts: keep counting
                log.warning("could not count payments flagged %s: %r", flag, exc)
        await asyncio.sleep(FLAG_GAUGES_EVERY_S)


class LogIds(Interceptor):
    """Every log line an activity writes, through any logger, carries its workflow id (and so
    its payment id): cobro/logs.py."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ActivityLogIds(next)


class _ActivityLogIds(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        with bind_ids(workflow_id=activity.info().workflow_id):
            return await super().execute_activity(input)
