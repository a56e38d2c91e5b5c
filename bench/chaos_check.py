"""What `make chaos` (bench/chaos.py) and its reduced version in `make test`
(tests/e2e/test_chaos_smoke.py) share: the check of every payment against the simulator's ground
truth (`GET /_sim/charges`). The merchant's orders and driving them through the API and the
simulator are in bench/chaos_orders.py, the Stripe webhooks a scenario sends itself in
bench/stripe_webhooks.py; both are importable from here as well.

The verdict for each payment, once everything had time to settle:

- **lost**: the merchant got a payment id that the API no longer knows, or the payment never
  reaches a final status (or the status the ledger expects, e.g. `awaiting_payment` for a voucher
  that is neither paid nor due yet), or the PSP holds money for it that `amount_received` does
  not show;
- **doubled**: more than one live (not voided) PSP charge carries the payment's idempotency key
  `cobro-payment-{id}`, or one PSP holds two charges for that key (a retried create that charged
  twice), or (on a fresh stack) a live charge belongs to a payment the merchant never got;
- **wrong**: cobro's status disagrees with the ledger's (see `AGREES` in
  bench/chaos_statuses.py), cobro shows money or refunds the PSP does not, or it points at a
  charge that is not the payment's live one.
"""

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

# Re-exported: tests/e2e/test_chaos_smoke.py imports the orders and the Stripe webhooks from here.
from bench.chaos_orders import Order as Order
from bench.chaos_orders import OrderSpec as OrderSpec
from bench.chaos_orders import Tally as Tally
from bench.chaos_orders import create_until_ok as create_until_ok
from bench.chaos_orders import make_orders as make_orders
from bench.chaos_orders import pay as pay
from bench.chaos_statuses import (
    AGREES,
    CATEGORIES,
    DEAD,
    EXPIRY_SLACK,
    FINAL,
    LONG_OPEN,
    Category,
)
from bench.stripe_webhooks import send_stripe_webhook as send_stripe_webhook
from bench.stripe_webhooks import stripe_intent as stripe_intent
from bench.stripe_webhooks import stripe_webhook as stripe_webhook

# ---- the check -------------------------------------------------------------------------


@dataclass
class Finding:
    category: Category
    payment_id: str | None
    reason: str
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    payments: int  # orders the merchant got an id for
    orders: int
    findings: list[Finding]
    no_id: list[str]  # orders whose create never succeeded (key: last error)
    statuses: Counter[str]
    # Payments that ended `failed` (no PSP charge). Consistent with the ledger, so not a
    # finding; but with healthy PSPs no payment should fail, so scenarios judge them.
    failures: list[Finding] = field(default_factory=list)
    at: float = field(default_factory=time.monotonic)

    def count(self, category: Category) -> int:
        """How many payments have at least one finding of this category."""
        return len({f.payment_id or f.reason for f in self.findings if f.category == category})

    @property
    def clean(self) -> bool:
        return not self.findings and not self.no_id

    def summary(self) -> str:
        counts = ", ".join(f"{c} {self.count(c)}" for c in CATEGORIES)
        extra = f", no id {len(self.no_id)}" if self.no_id else ""
        return f"{self.payments} payments: {counts}{extra}"

    def describe(self, limit: int = 20) -> str:
        lines = [self.summary()]
        lines += [f"  {f.category}: {f.payment_id}: {f.reason}" for f in self.findings[:limit]]
        lines += [f"  no id: {e}" for e in self.no_id[:limit]]
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "payments": self.payments,
            "orders": self.orders,
            **{c: self.count(c) for c in CATEGORIES},
            "no_id": self.no_id,
            "statuses": dict(self.statuses),
            "failed": len(self.failures),
            "findings": [asdict(f) for f in self.findings],
            "failures": [asdict(f) for f in self.failures],
        }


async def _cobro_payments(api: httpx.AsyncClient, ids: Iterable[str]) -> dict[str, Any]:
    """Every payment of the merchant (the list API, newest first), plus any of `ids` the list
    did not show, each asked for by id: None when the API answers 404."""
    found: dict[str, Any] = {}
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if after is not None:
            params["starting_after"] = after
        response = await api.get("/v1/payments", params=params)
        response.raise_for_status()
        page = response.json()
        for payment in page["data"]:
            found[payment["id"]] = payment
        if not page["has_more"] or not page["data"]:
            break
        after = page["data"][-1]["id"]
    for payment_id in ids:
        if payment_id not in found:
            response = await api.get(f"/v1/payments/{payment_id}")
            if response.status_code == 404:
                found[payment_id] = None
            else:
                response.raise_for_status()
                found[payment_id] = response.json()
    return found


def _parse_time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def judge(
    payment_id: str,
    payment: dict[str, Any] | None,
    charges: list[dict[str, Any]],
    now: datetime,
) -> list[Finding]:
    """Everything wrong with one payment, given cobro's view and the PSPs' charges for it."""
    if payment is None:
        return [Finding("lost", payment_id, "missing from the API (404)")]
    out: list[Finding] = []
    status = payment["status"]

    def finding(category: Category, reason: str) -> None:
        out.append(Finding(category, payment_id, f"{reason} [cobro: {status}]"))

    live = [c for c in charges if c["status"] not in DEAD]
    if len(live) > 1:
        finding("doubled", f"{len(live)} live charges: {[(c['psp'], c['id']) for c in live]}")
    per_psp = Counter(c["psp"] for c in charges)
    for psp, count in per_psp.items():
        if count > 1:
            finding("doubled", f"{count} charges at {psp} for one idempotency key")

    paid = sum(int(c["amount_paid"]) for c in charges)
    refunded = sum(int(c["amount_refunded"]) for c in charges)
    if paid > payment["amount_received"]:
        finding("lost", f"the PSP received {paid}, amount_received is {payment['amount_received']}")
    elif paid < payment["amount_received"]:
        finding("wrong", f"amount_received {payment['amount_received']} but the PSP got {paid}")
    if refunded != payment["amount_refunded"]:
        finding(
            "wrong", f"amount_refunded {payment['amount_refunded']}, the PSP refunded {refunded}"
        )

    reference = payment.get("psp_reference")
    if reference is None:
        if status != "failed":
            finding("lost", "no PSP charge and not failed")
        unvoided = [c for c in live if c["psp"] != "stp" or c["amount_paid"]]
        if unvoided:
            finding("wrong", f"failed, yet the PSP holds live charge(s) {unvoided}")
        return out
    charge = next((c for c in charges if c["id"] == reference), None)
    if charge is None:
        finding("wrong", f"its charge {reference} is not in the ledger under its key")
        return out
    if charge["status"] in DEAD and live:
        finding("wrong", f"points at voided {reference} while {live[0]['id']} is live")

    ledger = f"{charge['psp']} {charge['status']} paid {charge['amount_paid']}/{charge['amount']}"
    allowed = AGREES.get(charge["psp"], {}).get(charge["status"])
    if allowed is None:
        finding("wrong", f"unknown ledger status: {ledger}")
    elif status not in allowed:
        # Not final: it never got where the ledger says it should be. Final: the wrong end.
        finding("wrong" if status in FINAL else "lost", f"ledger says {ledger}")
    elif status not in FINAL:
        expires_at = _parse_time(payment.get("expires_at"))
        if expires_at is not None and expires_at - now < LONG_OPEN:
            overdue = now - expires_at
            finding(
                "lost",
                f"still {status}, due to expire at {expires_at:%H:%M:%S}"
                + (f" ({overdue.total_seconds():.0f} s ago)" if overdue > EXPIRY_SLACK else ""),
            )
    return out


async def check(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    orders: list[Order],
    fresh_stack: bool,
) -> Report:
    """One look at every order's payment and the simulator's ledger."""
    ids = [o.payment_id for o in orders if o.payment_id is not None]
    payments = await _cobro_payments(api, ids)
    ledger = (await sim.get("/_sim/charges")).json()["data"]
    by_key: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for charge in ledger:
        by_key[charge.get("idempotency_key") or ""].append(charge)
    now = datetime.now(UTC)
    findings: list[Finding] = []
    failures: list[Finding] = []
    statuses: Counter[str] = Counter()
    for payment_id in ids:
        payment = payments.get(payment_id)
        statuses[payment["status"] if payment else "missing"] += 1
        if payment is not None and payment["status"] == "failed":
            failures.append(Finding("failed", payment_id, f"failed: {payment['failure_reason']}"))
        findings += judge(payment_id, payment, by_key.get(f"cobro-payment-{payment_id}", []), now)
    if fresh_stack:
        known = set(ids)
        for key, charges in by_key.items():
            orphan = key.removeprefix("cobro-payment-")
            live = [c["id"] for c in charges if c["status"] not in DEAD]
            if key.startswith("cobro-payment-") and orphan not in known and live:
                known_to_api = payments.get(orphan) is not None
                findings.append(
                    Finding(
                        "doubled",
                        orphan,
                        f"live charge(s) {live} for a payment the merchant never got an id for"
                        + (" (the API lists it)" if known_to_api else ""),
                    )
                )
    no_id = [f"order {o.index} ({o.key}): {o.errors[-1:]}" for o in orders if o.payment is None]
    return Report(len(ids), len(orders), findings, no_id, statuses, failures)


async def evidence(api: httpx.AsyncClient, sim: httpx.AsyncClient, report: Report) -> None:
    """Attach the payment, its events and its ledger rows to every finding."""
    ledger = (await sim.get("/_sim/charges")).json()["data"]
    for f in report.findings + report.failures:
        if f.payment_id is None:
            continue
        key = f"cobro-payment-{f.payment_id}"
        f.evidence["charges"] = [c for c in ledger if c.get("idempotency_key") == key]
        got = await api.get(f"/v1/payments/{f.payment_id}")
        if got.status_code == 200:
            f.evidence["payment"] = got.json()
            events = await api.get(f"/v1/payments/{f.payment_id}/events")
            f.evidence["events"] = events.json().get("data")


async def settle(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    orders: list[Order],
    deadline_s: float,
    fresh_stack: bool = True,
    say: Callable[[str], None] | None = None,
    also_done: Callable[[], Awaitable[bool]] | None = None,
) -> Report:
    """Check again and again until nothing is wrong (or `deadline_s` passes): the last report,
    with evidence attached to whatever is still wrong."""
    started = time.monotonic()
    last_said = started
    report: Report | None = None
    while True:
        try:
            report = await check(api, sim, orders, fresh_stack)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            if say is not None:
                say(f"check failed ({exc!r}); retrying")
        else:
            done = report.clean and (also_done is None or await also_done())
            if done or time.monotonic() - started > deadline_s:
                break
            if say is not None and time.monotonic() - last_said >= 10:
                last_said = time.monotonic()
                say(f"settling ({time.monotonic() - started:.0f} s): {report.summary()}")
        if time.monotonic() - started > deadline_s + 60:
            raise TimeoutError("the API or the simulator did not answer the final check")
        await asyncio.sleep(2)
    if report.findings or report.failures:
        await evidence(api, sim, report)
    return report
