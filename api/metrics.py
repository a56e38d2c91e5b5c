"""`GET /metrics`: the API's Prometheus metrics (prometheus-client), every name in README.md.

Requests are counted and timed by route template (`/v1/payments/{payment_id}`, never the raw
path) by an ASGI middleware; a PSP webhook's answer is also timed per PSP (the ack latency).
The gauges of what waits in the database (inbox rows not forwarded yet, payments in
`processing`, disabled merchant endpoints) are read from PostgreSQL when Prometheus scrapes,
through partial indexes; every API replica reports the same values, so alerts take the max.
"""

import logging
import time
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import DATABASE_ERRORS
from cobro.db import inbox_repo, payments_repo, webhooks_repo
from cobro.psp.connectors import CONNECTORS

log = logging.getLogger("cobro.metrics")
router = APIRouter(tags=["metrics"])

WEBHOOK_PSPS = frozenset(c.name for c in CONNECTORS)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class ApiMetrics:
    """One registry per app (tests build several apps in one process)."""

    def __init__(self) -> None:
        self.registry = r = CollectorRegistry()
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.requests = Counter(
            "cobro_http_requests",
            "API requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "cobro_http_request_duration_seconds",
            "Time to answer an API request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.webhook_ack = Histogram(
            "cobro_webhook_ack_duration_seconds",
            "Time to acknowledge a PSP webhook (stored, not yet forwarded), by PSP",
            ["psp"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.unmatched = Counter(
            "cobro_unmatched_psp_events",
            "PSP events that matched no payment, kept for ops (STP: unmatched deposits)",
            ["psp"],
            registry=r,
        )
        self.inbox_waiting = Gauge(
            "cobro_webhook_inbox_unforwarded",
            "Stored PSP events not given to their workflow yet (state: forwardable, or "
            "awaiting_confirmation by the PSP)",
            ["state"],
            registry=r,
        )
        self.inbox_oldest = Gauge(
            "cobro_webhook_inbox_oldest_unforwarded_age_seconds",
            "Age of the oldest stored PSP event not forwarded yet (0 when none)",
            ["state"],
            registry=r,
        )
        self.processing = Gauge(
            "cobro_payments_processing", "Payments in status processing", registry=r
        )
        self.processing_oldest = Gauge(
            "cobro_payments_processing_oldest_age_seconds",
            "Time since the last change of the payment longest in processing (0 when none)",
            registry=r,
        )
        self.endpoints_disabled = Gauge(
            "cobro_merchant_webhook_endpoints_disabled",
            "Merchant webhook endpoints disabled after failing for the whole retry period",
            registry=r,
        )
        self.scrape_errors = Counter(
            "cobro_metrics_database_errors",
            "Scrapes whose database gauges could not be read (they keep their last values)",
            registry=r,
        )
        for psp in WEBHOOK_PSPS:
            self.unmatched.labels(psp)  # exported at 0 from the start, so increase() sees one

    async def read_database(self, request: Request) -> None:
        now = datetime.now(UTC)

        def age(oldest: datetime | None) -> float:
            return max((now - oldest).total_seconds(), 0.0) if oldest else 0.0

        try:
            async with request.app.state.sessions() as session:
                backlog = await inbox_repo.backlog(session)
                processing, oldest = await payments_repo.processing_backlog(session)
                disabled = await webhooks_repo.disabled_endpoints(session)
        except DATABASE_ERRORS as exc:
            self.scrape_errors.inc()
            log.warning("metrics: could not read the database: %r", exc)
            return
        for ready, state in ((True, "forwardable"), (False, "awaiting_confirmation")):
            count, first = backlog.get(ready, (0, None))
            self.inbox_waiting.labels(state).set(count)
            self.inbox_oldest.labels(state).set(age(first))
        self.processing.set(processing)
        self.processing_oldest.set(age(oldest))
        self.endpoints_disabled.set(disabled)


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    await api_metrics.read_database(request)
    return Response(generate_latest(api_metrics.registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts and times every HTTP request by the route template it matched."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler answers 500

        async def send_and_time(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                self._acknowledged(scope, time.perf_counter() - started)
            await send(message)

        try:
            await self.app(scope, receive, send_and_time)
        finally:
            template = str(getattr(scope.get("route"), "path", "unmatched"))
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(
                time.perf_counter() - started
            )

    def _acknowledged(self, scope: Scope, seconds: float) -> None:
        route = scope.get("route")
        path = getattr(route, "path", "")
        if not path.startswith("/webhooks/"):
            return
        # /webhooks/{psp}, or a PSP's own receivers at /webhooks/<name>[/...] (STP's cambioEstado)
        psp = scope.get("path_params", {}).get("psp") or path.split("/")[2]
        if psp in WEBHOOK_PSPS:
            self.metrics.webhook_ack.labels(psp).observe(seconds)
