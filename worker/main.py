"""`cobro worker`: hosts PaymentWorkflow and its activities on task queue `payments`, the
merchant webhook deliveries on their own task queue, so slow merchant endpoints never take
the slots payments need, and each PSP's status checks and voids on that PSP's task queue,
rate limited for all workers together (COBRO_PSP_RATE_LIMITS)."""

import asyncio
import contextlib
import logging
import signal
import sys

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client
from temporalio.service import RPCError
from temporalio.worker import (
    PollerBehavior,
    PollerBehaviorAutoscaling,
    PollerBehaviorSimpleMaximum,
    Worker,
)

from activities.merchant_webhooks import MerchantWebhookActivities
from activities.ops import OpsActivities
from activities.projection import ProjectionActivities
from activities.psp import PspActivities
from activities.reconciliation import ReconciliationActivities
from cobro.activity_api import psp_task_queue
from cobro.business_metrics import BusinessMetrics
from cobro.db.session import make_engine, make_sessionmaker
from cobro.psp.registry import build_adapters, build_deposit_claimers
from cobro.reconciliation.readers import report_readers
from cobro.reconciliation_schedule import ensure_schedule
from cobro.secret_box import SecretBox
from cobro.settings import Settings
from cobro.task_queues import MERCHANT_WEBHOOKS, PAYMENTS
from cobro.temporal_client import connect
from worker.telemetry import LogIds, count_flagged_forever, start_metrics
from workflows.payment import PaymentWorkflow
from workflows.reconciliation import SCHEDULE_ID, DailyReconciliation
from workflows.webhook_delivery import MerchantWebhookDelivery

log = logging.getLogger("cobro.worker")


def pollers(settings: Settings) -> PollerBehavior:
    """COBRO_WORKER_POLLER_AUTOSCALING: as many open polls as the backlog calls for; otherwise
    the SDK's fixed 5 per queue."""
    if settings.worker_poller_autoscaling:
        return PollerBehaviorAutoscaling()
    return PollerBehaviorSimpleMaximum(maximum=5)


def build_worker(
    client: Client,
    settings: Settings,
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    metrics: BusinessMetrics | None = None,
) -> Worker:
    metrics = metrics or BusinessMetrics()
    adapters = build_adapters(settings, http)
    psp = PspActivities(adapters, sessions, metrics)
    ops = OpsActivities(sessions, build_deposit_claimers(settings, http))
    webhooks = merchant_webhook_activities(client, settings, http, sessions, metrics)
    projection = ProjectionActivities(sessions, webhooks, metrics)
    return Worker(
        client,
        task_queue=PAYMENTS,
        interceptors=[LogIds()],
        max_cached_workflows=settings.worker_max_cached_workflows,
        nonsticky_to_sticky_poll_ratio=settings.worker_nonsticky_poll_ratio,
        max_concurrent_workflow_tasks=settings.worker_max_concurrent_workflow_tasks,
        workflow_task_poller_behavior=pollers(settings),
        activity_task_poller_behavior=pollers(settings),
        workflows=[PaymentWorkflow, DailyReconciliation],
        activities=[
            psp.create_charge,
            psp.get_charge,
            psp.cancel_charge,
            psp.refund_charge,
            psp.get_refund,
            psp.void_orphan_charges,
            projection.record_transition,
            projection.record_transitions,
            projection.record_refund,
            ops.attach_unmatched_deposit,
            webhooks.publish,
            ReconciliationActivities(
                sessions, report_readers(settings, http), client, metrics
            ).reconcile_day,
        ],
    )


def build_psp_workers(
    client: Client,
    settings: Settings,
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    metrics: BusinessMetrics | None = None,
) -> list[Worker]:
    """One worker per enabled PSP on its task queue (history version 4), whose activity rate
    Temporal caps at that PSP's COBRO_PSP_RATE_LIMITS for every worker polling it: a herd of
    expiring vouchers waits in Temporal's queue instead of drawing 429s from the PSP."""
    psp = PspActivities(build_adapters(settings, http), sessions, metrics)
    limits = settings.psp_rate_limits
    return [
        Worker(
            client,
            task_queue=psp_task_queue(name),
            interceptors=[LogIds()],
            activities=[psp.get_charge, psp.cancel_charge],
            max_task_queue_activities_per_second=limits.get(name),
            activity_task_poller_behavior=pollers(settings),
        )
        for name in sorted(settings.enabled_psps)
    ]


def merchant_webhook_activities(
    client: Client,
    settings: Settings,
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    metrics: BusinessMetrics | None = None,
) -> MerchantWebhookActivities:
    assert settings.cobro_secret_key is not None  # Settings requires it outside simulator mode
    return MerchantWebhookActivities(
        sessions,
        client,
        SecretBox(settings.cobro_secret_key.get_secret_value()),
        http,
        settings.webhook_retry_initial_seconds,
        settings.webhook_retry_for_seconds,
        metrics,
        policy=settings.webhook_url_policy,
    )


def build_webhook_worker(
    client: Client,
    settings: Settings,
    http: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    metrics: BusinessMetrics | None = None,
) -> Worker:
    webhooks = merchant_webhook_activities(client, settings, http, sessions, metrics)
    return Worker(
        client,
        task_queue=MERCHANT_WEBHOOKS,
        interceptors=[LogIds()],
        workflows=[MerchantWebhookDelivery],
        activities=[webhooks.deliver, webhooks.give_up],
    )


async def _ensure_reconciliation_schedule(client: Client) -> None:
    """Every worker makes sure the schedule exists: the first to start creates it, the others
    find it (Temporal creates a schedule id once), so N workers make one schedule."""
    try:
        if await ensure_schedule(client):
            log.info("created the reconciliation schedule %r", SCHEDULE_ID)
    except RPCError as exc:  # reconciliation can wait for ops; payments cannot
        log.error("could not create the reconciliation schedule %r: %s", SCHEDULE_ID, exc)


async def run(settings: Settings) -> None:
    # Temporal's sandbox imports the workflow modules afresh for every workflow run; without
    # .pyc files (PYTHONDONTWRITEBYTECODE) each run compiles them again: 21 % of the worker's
    # CPU in `make bench`.
    sys.dont_write_bytecode = False
    runtime, metrics = start_metrics(settings)
    client = await connect(settings, runtime=runtime)
    await _ensure_reconciliation_schedule(client)
    engine = make_engine(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with httpx.AsyncClient(timeout=httpx.Timeout(10, connect=5)) as http:
        sessions = make_sessionmaker(engine)
        flag_gauges = asyncio.create_task(count_flagged_forever(client, metrics))
        psp_workers = build_psp_workers(client, settings, http, sessions, metrics)
        async with (
            build_worker(client, settings, http, sessions, metrics),
            build_webhook_worker(client, settings, http, sessions, metrics),
            contextlib.AsyncExitStack() as psp_stack,
        ):
            for psp_worker in psp_workers:
                await psp_stack.enter_async_context(psp_worker)
            log.info(
                "worker polling task queues %r and %r on %s namespace %r",
                PAYMENTS,
                MERCHANT_WEBHOOKS,
                client.service_client.config.target_host,
                client.namespace,
            )
            await stop.wait()
        flag_gauges.cancel()
    await engine.dispose()
