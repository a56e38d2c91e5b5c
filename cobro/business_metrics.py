"""The worker's business metrics, recorded by activities (never by workflow code, which replays)
through the Temporal runtime's metric meter, so the worker serves them on the same Prometheus
endpoint as the SDK's own metrics (worker/telemetry.py says why). Every name is in README.md
("Metrics"); deploy/prometheus/alerts.yml alerts on several of them.

The counters an alert reads with `increase()` are created at zero for every label value known
at start-up: a series that first appears already at 1 shows no increase to Prometheus.
"""

import time
from collections.abc import Awaitable, Iterable
from typing import TypeVar

from temporalio.common import MetricMeter

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Transition
from cobro.domain.status import PaymentStatus
from cobro.psp.errors import PspRateLimited, PspRejected, PspUnavailable

T = TypeVar("T")
S = PaymentStatus

# A payment has ended once it reaches one of these (a later refund is not a second end).
ENDED = frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED, S.CANCELED})
RECONCILIATION_RESULTS = ("matched", "amount_mismatch", "missing_at_psp", "missing_in_cobro")
# PSP calls take from a few ms (simulator) to the clients' 10 s timeout.
PSP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class BusinessMetrics:
    def __init__(self, meter: MetricMeter | None = None, psps: Iterable[str] = ()) -> None:
        m = meter or MetricMeter.noop
        # Counter names get `_total` from the exporter (PrometheusConfig.counters_total_suffix).
        self._created = m.create_counter(
            "cobro_payments_created", "Payments created, by method and first PSP"
        )
        self._ended = m.create_counter(
            "cobro_payments_ended",
            "Payments that reached a final status (succeeded, failed, expired, canceled)",
        )
        self._psp_duration = m.create_histogram_float(
            "cobro_psp_request_duration_seconds", "PSP API calls made by activities"
        )
        self._psp_errors = m.create_counter(
            "cobro_psp_request_errors",
            "PSP API calls that failed: unavailable (timeout, 5xx), rate_limited (429) or "
            "rejected (4xx)",
        )
        self._failovers = m.create_counter(
            "cobro_psp_failovers",
            "Payments that left a failing PSP for the next one (psp: the PSP left)",
        )
        self._late_held = m.create_counter(
            "cobro_late_money_held", "Late, excess or returned money held for ops"
        )
        self._late_held_centavos = m.create_counter(
            "cobro_late_money_held_centavos", "Centavos of late money held for ops"
        )
        self._delivery_failures = m.create_counter(
            "cobro_merchant_webhook_delivery_failures",
            "Merchant webhook attempts that got no 2xx (reason: http_4xx, http_5xx, network)",
        )
        self._endpoints_disabled = m.create_counter(
            "cobro_merchant_webhook_endpoints_disabled",
            "Merchant endpoints disabled after failing for the whole retry period",
        )
        self._recon_lines = m.create_counter(
            "cobro_reconciliation_lines", "Reconciliation lines stored, by PSP and result"
        )
        self._flagged = m.create_gauge(
            "cobro_open_payments_flagged",
            "Open payments with a PaymentFlags value, from Temporal visibility",
        )
        self._start_at_zero(list(psps))

    def _start_at_zero(self, psps: list[str]) -> None:
        methods = [m.value for m in PaymentMethod]
        for psp in psps:
            self._recon_lines.add(0, {"psp": psp, "result": "amount_mismatch"})
            self._recon_lines.add(0, {"psp": psp, "result": "missing_at_psp"})
            self._recon_lines.add(0, {"psp": psp, "result": "missing_in_cobro"})
            for method in methods:
                self._failovers.add(0, {"method": method, "psp": psp})
                self._late_held.add(0, {"method": method, "psp": psp})
        self._endpoints_disabled.add(0)

    # ---- the projection: what a recorded transition means --------------------------------------

    def transition_recorded(self, t: Transition, method: str, psp: str) -> None:
        """`t` was written for the first time (a retried activity records nothing again)."""
        labels = {"method": method, "psp": psp}
        if t.kind == "transition" and t.from_status is None:
            self._created.add(1, labels)
        elif t.kind == "transition" and t.to_status in ENDED and t.from_status not in ENDED:
            self._ended.add(1, {**labels, "status": t.to_status.value})
        elif t.kind == "failover" and t.failed_psp:
            self._failovers.add(1, {"method": method, "psp": t.failed_psp})
        if t.late_money_held:
            self._late_held.add(1, labels)
            self._late_held_centavos.add(t.late_money_held, labels)

    # ---- PSP calls -----------------------------------------------------------------------------

    async def psp_call(self, psp: str, operation: str, call: Awaitable[T]) -> T:
        labels = {"psp": psp, "operation": operation}
        started = time.monotonic()
        try:
            return await call
        except PspRateLimited:
            self._psp_errors.add(1, {**labels, "kind": "rate_limited"})
            raise
        except PspUnavailable:
            self._psp_errors.add(1, {**labels, "kind": "unavailable"})
            raise
        except PspRejected:
            self._psp_errors.add(1, {**labels, "kind": "rejected"})
            raise
        finally:
            self._psp_duration.record(time.monotonic() - started, labels)

    # ---- merchant webhooks, reconciliation, visibility ------------------------------------

    def delivery_failed(self, status_code: int | None) -> None:
        reason = "network" if status_code is None else f"http_{status_code // 100}xx"
        self._delivery_failures.add(1, {"reason": reason})

    def endpoint_disabled(self) -> None:
        self._endpoints_disabled.add(1)

    def reconciled(self, psp: str, counts: dict[str, int]) -> None:
        for result, count in counts.items():
            self._recon_lines.add(count, {"psp": psp, "result": result})

    def flagged(self, flag: str, open_payments: int) -> None:
        self._flagged.set(open_payments, {"flag": flag})
