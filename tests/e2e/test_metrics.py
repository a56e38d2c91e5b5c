"""Every /metrics endpoint of the stack, scraped before and after payments: the API's
(prometheus-client), the worker's (Temporal SDK + business metrics on the runtime's Prometheus
endpoint) and the Temporal dev server's own; the named metrics move as the payments do."""

from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.helpers import OXXO_BODY, create, wait_for_status, wait_until
from tests.stack import CobroProcesses, Servers

Samples = list[tuple[str, dict[str, str], float]]


async def scrape(url: str) -> Samples:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    ]


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels` (0 when none)."""
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )


def names(samples: Samples) -> set[str]:
    return {name for name, _, _ in samples}


async def _pay_one(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> dict[str, Any]:
    response = await create(api, OXXO_BODY)
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    assert paid.status_code == 200, paid.text
    await wait_for_status(api, payment["id"], "succeeded")
    return payment


async def test_every_metrics_endpoint_moves_with_a_payment(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, cobro: CobroProcesses, servers: Servers
) -> None:
    api_metrics = f"{cobro.api_url}/metrics"
    api_before = await scrape(api_metrics)
    worker_before = await scrape(cobro.worker_metrics_url)
    temporal_before = await scrape(servers.temporal_metrics_url)

    payment = await _pay_one(api, sim)

    api_after = await scrape(api_metrics)
    created = {"method": "POST", "route": "/v1/payments", "status": "201"}
    assert total(api_after, "cobro_http_requests_total", **created) == (
        total(api_before, "cobro_http_requests_total", **created) + 1
    )
    # By template: the payment's own id never becomes a label.
    routes = {labels.get("route") for _, labels, _ in api_after}
    assert "/v1/payments/{payment_id}" in routes and not any(
        payment["id"] in (route or "") for route in routes
    )
    assert total(
        api_after, "cobro_http_request_duration_seconds_count", route="/v1/payments"
    ) > total(api_before, "cobro_http_request_duration_seconds_count", route="/v1/payments")
    assert total(api_after, "cobro_webhook_ack_duration_seconds_count", psp="stripe") > total(
        api_before, "cobro_webhook_ack_duration_seconds_count", psp="stripe"
    )
    for gauge in (
        "cobro_webhook_inbox_unforwarded",
        "cobro_webhook_inbox_oldest_unforwarded_age_seconds",
        "cobro_payments_processing",
        "cobro_payments_processing_oldest_age_seconds",
        "cobro_merchant_webhook_endpoints_disabled",
        "cobro_unmatched_psp_events_total",
        "process_cpu_seconds_total",
    ):
        assert gauge in names(api_after), gauge

    # The worker: business metrics from its activities, the SDK's own, on one endpoint. The
    # projection counts once its write is committed, so allow a moment after the API saw it.
    oxxo = {"method": "oxxo", "psp": "stripe"}

    async def worker_counted() -> Samples | None:
        now = await scrape(cobro.worker_metrics_url)
        ended = total(now, "cobro_payments_ended_total", status="succeeded", **oxxo)
        before = total(worker_before, "cobro_payments_ended_total", status="succeeded", **oxxo)
        return now if ended == before + 1 else None

    worker_after = await wait_until(worker_counted, "the worker counting the payment's end", 10)
    assert total(worker_after, "cobro_payments_created_total", **oxxo) == (
        total(worker_before, "cobro_payments_created_total", **oxxo) + 1
    )
    create_charge = {"psp": "stripe", "operation": "create_charge"}
    assert total(worker_after, "cobro_psp_request_duration_seconds_count", **create_charge) > (
        total(worker_before, "cobro_psp_request_duration_seconds_count", **create_charge)
    )
    for moved in (
        "temporal_workflow_task_schedule_to_start_latency_seconds_count",
        "temporal_workflow_task_execution_latency_seconds_count",
        "temporal_local_activity_execution_latency_seconds_count",
        "temporal_sticky_cache_hit_total",
    ):
        assert total(worker_after, moved) > total(worker_before, moved), moved
    for present in (
        "temporal_sticky_cache_size",
        "temporal_worker_task_slots_available",
        "cobro_psp_failovers_total",  # at 0 for every PSP and method from the start
        "cobro_reconciliation_lines_total",
        "cobro_late_money_held_total",
        "cobro_merchant_webhook_endpoints_disabled_total",
        "cobro_open_payments_flagged",  # counted in visibility at start-up, then every minute
    ):
        assert present in names(worker_after), present

    # The dev server's own metrics: it served the payment's workflow tasks (its exporter
    # publishes every few seconds).
    served = total(temporal_before, "service_requests_total")

    async def server_counted() -> bool:
        now = await scrape(servers.temporal_metrics_url)
        return total(now, "service_requests_total") > served

    await wait_until(server_counted, "the dev server counting the payment's requests", 20)
