"""Traces and the Temporal runtime's telemetry, set up once per process.

Traces (OpenTelemetry) are exported over OTLP/HTTP, and only when the standard
OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the exporter reads
the other standard OTEL_* variables itself. Then:
- the API makes a span per request (FastAPI instrumentation, named by route template);
- every Temporal client gets `TracingInterceptor`, which carries the context in Temporal
  headers: the API's update-with-start and signals, the workflow (spans created outside the
  sandbox, never on replay), its activities, local ones included;
- httpx calls (the PSPs, merchant webhooks) get a client span and send `traceparent`.

The Temporal runtime forwards its Rust core's log lines to Python logging (so they come out as
JSON like every other line, cobro/logs.py) and, in the worker, serves Prometheus metrics.
"""

import logging
import os
from functools import cache

from opentelemetry import trace
from temporalio.client import Interceptor
from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
_configured: list[str] = []


def tracing_enabled() -> bool:
    return bool(_configured)


def configure_tracing(service: str) -> bool:
    """Export this process's spans when an OTLP endpoint is configured; True if so."""
    if _configured or not any(os.environ.get(name) for name in OTLP_VARIABLES):
        return bool(_configured)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES, when set, name the service instead.
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    _configured.append(service)
    return True


def temporal_interceptors() -> list[Interceptor]:
    if not tracing_enabled():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def _log_forwarding() -> LoggingConfig:
    return LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )


@cache
def default_runtime() -> Runtime:
    """The runtime of processes that serve no Temporal metrics (the API, admin commands)."""
    return Runtime(telemetry=TelemetryConfig(logging=_log_forwarding()))


def metrics_runtime(bind_address: str, histogram_buckets: dict[str, tuple[float, ...]]) -> Runtime:
    """The worker's runtime: the SDK's metrics and cobro's business metrics (created through
    `runtime.metric_meter`) on one Prometheus endpoint, `http://{bind_address}/metrics`.
    Prometheus conventions: durations in seconds with a `_seconds` suffix, counters `_total`."""
    return Runtime(
        telemetry=TelemetryConfig(
            logging=_log_forwarding(),
            metrics=PrometheusConfig(
                bind_address=bind_address,
                counters_total_suffix=True,
                unit_suffix=True,
                durations_as_seconds=True,
                histogram_bucket_overrides=histogram_buckets,
            ),
            # Prometheus labels every series with its job and instance already.
            attach_service_name=False,
        )
    )
