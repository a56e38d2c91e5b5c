"""What each recorded event counts in the worker's business metrics (cobro/business_metrics.py),
read back through the Temporal runtime's own metric buffer (the worker serves the same
instruments through PrometheusConfig instead)."""

from collections import Counter
from datetime import UTC, datetime

import pytest
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig

from cobro.business_metrics import BusinessMetrics
from cobro.domain.payment import Transition
from cobro.domain.status import EventSource, PaymentStatus
from cobro.psp.errors import PspRejected, PspUnavailable

S = PaymentStatus
AT = datetime(2026, 11, 26, 12, tzinfo=UTC)


@pytest.fixture(scope="module")
def buffer() -> MetricBuffer:
    return MetricBuffer(10_000)


@pytest.fixture(scope="module")
def runtime(buffer: MetricBuffer) -> Runtime:
    return Runtime(telemetry=TelemetryConfig(metrics=buffer, attach_service_name=False))


def counted(buffer: MetricBuffer) -> Counter[tuple[str, frozenset[tuple[str, str]]]]:
    """Counter and histogram updates since the last call: (name, labels) -> sum of values."""
    totals: Counter[tuple[str, frozenset[tuple[str, str]]]] = Counter()
    for update in buffer.retrieve_updates():
        labels = frozenset((k, str(v)) for k, v in update.attributes.items())
        totals[(update.metric.name, labels)] += update.value  # type: ignore[assignment]
    return totals


def key(name: str, **labels: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return name, frozenset(labels.items())


def transition(
    seq: int, frm: S | None, to: S, kind: str = "transition", **fields: object
) -> Transition:
    return Transition.model_validate(
        {
            "payment_id": "pay_1",
            "seq": seq,
            "kind": kind,
            "from_status": frm,
            "to_status": to,
            "at": AT,
            "source": EventSource.PSP_WEBHOOK,
            "detail": "test",
            **fields,
        }
    )


def test_the_counters_alerts_read_start_at_zero(runtime: Runtime, buffer: MetricBuffer) -> None:
    BusinessMetrics(runtime.metric_meter, ["stripe", "stp"])
    start = counted(buffer)
    assert start[key("cobro_psp_failovers", method="spei", psp="stp")] == 0
    assert key("cobro_psp_failovers", method="crypto", psp="stripe") in start
    assert key("cobro_reconciliation_lines", psp="stp", result="amount_mismatch") in start
    assert key("cobro_late_money_held", method="oxxo", psp="stripe") in start
    assert key("cobro_merchant_webhook_endpoints_disabled") in start


def test_a_payment_is_created_once_and_ends_once(runtime: Runtime, buffer: MetricBuffer) -> None:
    metrics = BusinessMetrics(runtime.metric_meter)
    counted(buffer)
    for t in (
        transition(1, None, S.PENDING),
        transition(2, S.PENDING, S.AWAITING_PAYMENT),
        transition(3, S.AWAITING_PAYMENT, S.AWAITING_PAYMENT, "partial_payment"),
        transition(4, S.AWAITING_PAYMENT, S.SUCCEEDED),
        transition(5, S.SUCCEEDED, S.PARTIALLY_REFUNDED),  # a refund ends nothing again
        transition(6, S.PARTIALLY_REFUNDED, S.REFUNDED),
    ):
        metrics.transition_recorded(t, "spei", "stripe")
    assert counted(buffer) == Counter(
        {
            key("cobro_payments_created", method="spei", psp="stripe"): 1,
            key("cobro_payments_ended", method="spei", psp="stripe", status="succeeded"): 1,
        }
    )


def test_failovers_and_late_money_held(runtime: Runtime, buffer: MetricBuffer) -> None:
    metrics = BusinessMetrics(runtime.metric_meter)
    counted(buffer)
    pending = (S.PENDING, S.PENDING)
    metrics.transition_recorded(
        transition(2, *pending, "failover", failed_psp="stripe"), "oxxo", "conekta"
    )
    expired = (S.EXPIRED, S.EXPIRED)
    metrics.transition_recorded(
        transition(7, *expired, "late_payment", late_money_held=5_000), "oxxo", "conekta"
    )
    metrics.transition_recorded(transition(8, *expired, "late_payment"), "spei", "stp")  # refunded
    assert counted(buffer) == Counter(
        {
            key("cobro_psp_failovers", method="oxxo", psp="stripe"): 1,
            key("cobro_late_money_held", method="oxxo", psp="conekta"): 1,
            key("cobro_late_money_held_centavos", method="oxxo", psp="conekta"): 5_000,
        }
    )


async def test_psp_calls_are_timed_and_their_failures_counted(
    runtime: Runtime, buffer: MetricBuffer
) -> None:
    metrics = BusinessMetrics(runtime.metric_meter)
    counted(buffer)

    async def answer() -> str:
        return "ok"

    async def fail(error: Exception) -> str:
        raise error

    assert await metrics.psp_call("stripe", "create_charge", answer()) == "ok"
    with pytest.raises(PspUnavailable):
        await metrics.psp_call("stripe", "create_charge", fail(PspUnavailable("503")))
    with pytest.raises(PspRejected):
        await metrics.psp_call("stp", "cancel_charge", fail(PspRejected("already paid")))
    updates = buffer.retrieve_updates()
    timed = Counter(
        (u.attributes["psp"], u.attributes["operation"])
        for u in updates
        if u.metric.name == "cobro_psp_request_duration_seconds"
    )
    assert timed == Counter({("stripe", "create_charge"): 2, ("stp", "cancel_charge"): 1})
    errors = {
        (u.attributes["psp"], u.attributes["kind"])
        for u in updates
        if u.metric.name == "cobro_psp_request_errors"
    }
    assert errors == {("stripe", "unavailable"), ("stp", "rejected")}
