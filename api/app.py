"""`cobro api`: the merchant API and the PSP webhook receiver."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from api import openapi, problems
from api.forwarder import Forwarder
from api.metrics import ApiMetrics, RequestMetrics
from api.metrics import router as metrics_router
from api.routes import (
    api_keys,
    health,
    payment_actions,
    payments,
    privacy,
    reconciliation,
    stp_webhooks,
    webhook_endpoints,
    webhooks,
)
from api.server_timing import ServerTiming
from api.webhook_admission import WebhookAdmission
from cobro.db.session import make_engine, make_sessionmaker
from cobro.psp.registry import build_confirmers
from cobro.settings import Settings
from cobro.telemetry import tracing_enabled
from cobro.temporal_client import connect

PSP_QUERY_TIMEOUT_S = 10


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings)
        app.state.settings = settings
        app.state.sessions = make_sessionmaker(engine)
        # Each request's key check and rate limit (api/deps.py): one autocommit statement.
        app.state.gate = engine.execution_options(isolation_level="AUTOCOMMIT")
        # Reads of one payment (merchants poll them): no BEGIN and ROLLBACK round trips.
        app.state.reads = make_sessionmaker(app.state.gate)
        app.state.webhook_admission = WebhookAdmission(
            settings.webhook_concurrency, settings.webhook_queue
        )
        # Lazy: the API starts (and /healthz reports it) even while Temporal is still down.
        app.state.temporal = await connect(settings, lazy=True)
        # PSP queries made while a PSP waits for our answer (STP's confirmations) stay short.
        psp_http = httpx.AsyncClient(timeout=PSP_QUERY_TIMEOUT_S)
        app.state.forwarder = Forwarder(
            app.state.sessions, app.state.temporal, build_confirmers(settings, psp_http)
        )
        sweeper = asyncio.create_task(app.state.forwarder.sweep_forever())
        yield
        sweeper.cancel()
        await app.state.forwarder.close()
        await psp_http.aclose()
        await engine.dispose()

    app = FastAPI(
        title="cobro",
        version="0.1.0",
        lifespan=lifespan,
        description="Payments in Mexico (SPEI, OXXO, crypto) as Temporal workflows. Every "
        "error is an RFC 9457 `application/problem+json` body.",
        generate_unique_id_function=openapi.operation_id,
    )
    problems.install(app)
    openapi.install(app)
    app.state.metrics = ApiMetrics()
    app.add_middleware(ServerTiming)
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)
    app.include_router(payments.router)
    app.include_router(payment_actions.router)
    app.include_router(webhook_endpoints.router)
    app.include_router(api_keys.router)
    app.include_router(privacy.router)
    app.include_router(reconciliation.router)
    app.include_router(stp_webhooks.router)  # before /webhooks/{psp}: STP answers its own way
    app.include_router(webhooks.router)
    app.include_router(health.router)
    app.include_router(metrics_router)
    if tracing_enabled():  # a server span per request, named by route template
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(
            app, excluded_urls="metrics,healthz", exclude_spans=["receive", "send"]
        )
    return app
