"""What `make chaos` (bench/chaos.py) and its reduced version in `make test`
(tests/e2e/test_chaos_smoke.py) share: the merchant's orders, driving them through the API and
the simulator, and the check of every payment against the simulator's ground truth
(`GET /_sim/charges`).

The verdict for each payment, once everything had time to settle:

- **lost**: the merchant got a payment id that the API no longer knows, or the payment never
  reaches a final status (or the status the ledger expects, e.g. `awaiting_payment` for a voucher
  that is neither paid nor due yet), or the PSP holds money for it that `amount_received` does
  not show;
- **doubled**: more than one live (not voided) PSP charge carries the payment's idempotency key
  `cobro-payment-{id}`, or one PSP holds two charges for that key (a retried create that charged
  twice), or (on a fresh stack) a live charge belongs to a payment the merchant never got;
- **wrong**: cobro's status disagrees with the ledger's (see `AGREES`), cobro shows money or
  refunds the PSP does not, or it points at a charge that is not the payment's live one.
"""

import asyncio
import json
import re
import secrets
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import httpx
from standardwebhooks.webhooks import Webhook

from cobro.psp.stripe import signature
from cobro.settings import SIMULATOR_STRIPE_API_KEY, SIMULATOR_STRIPE_WEBHOOK_SECRET

# ---- what cobro and the ledger may say -------------------------------------------------

FINAL = frozenset({"succeeded", "partially_refunded", "refunded", "failed", "expired", "canceled"})
SUCCEEDED = frozenset({"succeeded", "partially_refunded", "refunded"})
ENDED_UNPAID = frozenset({"expired", "canceled"})
# Ledger statuses of a charge that can no longer be paid (voided at the PSP).
DEAD = frozenset({"canceled", "expired", "voided"})

# Per PSP: the ledger status of the payment's charge -> the cobro statuses that agree with it.
# A charge the ledger shows paid in full must be `succeeded` (or refunded after it); one still
# payable must be `awaiting_payment` (cobro expiring a payment always voids its charge first, so
# an expired payment over a payable charge is wrong); one voided must be expired or canceled.
AGREES: dict[str, dict[str, frozenset[str]]] = {
    # PaymentIntent.status (docs.stripe.com/payments/paymentintents/lifecycle); simulator:
    # requires_action until paid, succeeded once amount_paid >= amount, canceled when voided.
    "stripe": {
        "succeeded": SUCCEEDED,
        "requires_action": frozenset({"awaiting_payment"}),
        "processing": frozenset({"processing"}),
        "canceled": ENDED_UNPAID,
        "requires_payment_method": frozenset({"failed"}),
    },
    # Order payment_status: pending_payment until paid, paid, or canceled/expired when voided.
    "conekta": {
        "paid": SUCCEEDED,
        "pending_payment": frozenset({"awaiting_payment"}),
        "canceled": ENDED_UNPAID,
        "expired": ENDED_UNPAID,
        "declined": frozenset({"failed"}),
    },
    # A registered CLABE: it cannot be voided at STP, so an expired or canceled payment keeps
    # a `registered` (or partly paid) CLABE; only cobro's clock tells them apart.
    "stp": {
        "paid": SUCCEEDED,
        "partially_paid": frozenset({"awaiting_payment"}) | ENDED_UNPAID,
        "registered": frozenset({"awaiting_payment"}) | ENDED_UNPAID,
    },
}
# A payment still open is "expected" only while its expiry is far away (an OXXO voucher valid for
# days); one due sooner must be seen expiring within the run.
LONG_OPEN = timedelta(minutes=10)
EXPIRY_SLACK = timedelta(seconds=30)  # workflow time + grace + the final PSP check and void

Category = Literal["lost", "doubled", "wrong", "failed"]
CATEGORIES: tuple[Category, ...] = ("lost", "doubled", "wrong")

# ---- the merchant's orders -------------------------------------------------------------

Plan = Literal["pay", "partial", "expire", "open"]
AMOUNT = 25_000
PARTIAL_AMOUNT = 10_000
SHORT_EXPIRY_S = 15


@dataclass(frozen=True)
class OrderSpec:
    method: str  # oxxo | spei
    psp: str | None  # None: cobro routes it (Stripe first, failing over)
    plan: Plan  # pay in full; pay part, then let it expire; let it expire; leave it open
    expires_in: int


# The mix every scenario cycles through: Stripe, Conekta and STP; OXXO and SPEI; 13 of 20 paid.
MIX: tuple[OrderSpec, ...] = (
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "pay", 3_600),
    OrderSpec("oxxo", "conekta", "pay", 3 * 86_400),
    OrderSpec("spei", "conekta", "pay", 3_600),
    OrderSpec("spei", "stp", "pay", 3_600),
    OrderSpec("spei", None, "expire", SHORT_EXPIRY_S),
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "partial", SHORT_EXPIRY_S),
    OrderSpec("spei", "conekta", "expire", SHORT_EXPIRY_S),
    OrderSpec("oxxo", None, "open", 3 * 86_400),
)
# Stripe only (default routing), for scenarios that send Stripe webhooks themselves.
MIX_STRIPE: tuple[OrderSpec, ...] = (
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "pay", 3_600),
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "pay", 3_600),
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "pay", 3_600),
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "pay", 3_600),
    OrderSpec("oxxo", None, "pay", 3 * 86_400),
    OrderSpec("spei", None, "expire", SHORT_EXPIRY_S * 2),
)


@dataclass
class Order:
    """One payment the merchant wants, and what happened to it on the way."""

    index: int
    spec: OrderSpec
    key: str = field(default_factory=lambda: f"chaos-{uuid.uuid4()}")
    payment: dict[str, Any] | None = None
    create_attempts: int = 0
    paid_amount: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "amount": AMOUNT,
            "currency": "MXN",
            "method": self.spec.method,
            "customer": {"name": "Ana López", "email": f"ana+{self.index}@example.mx"},
            "description": f"chaos order {self.index}",
            "metadata": {"chaos_order": str(self.index), "plan": self.spec.plan},
            "expires_in": self.spec.expires_in,
        }
        if self.spec.psp is not None:
            body["psp"] = self.spec.psp
        return body

    @property
    def payment_id(self) -> str | None:
        return None if self.payment is None else str(self.payment["id"])


def make_orders(n: int, mix: tuple[OrderSpec, ...] = MIX) -> list[Order]:
    return [Order(i, mix[i % len(mix)]) for i in range(n)]


@dataclass
class Tally:
    """Every answer the merchant (and our own webhook sender) got from the API."""

    responses: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)

    def record(self, what: str, response: httpx.Response) -> None:
        self.responses[f"{what} {response.status_code}"] += 1
        if response.status_code >= 500:
            self.server_errors[f"{what} {response.status_code} {_problem_type(response)}"] += 1

    def failed(self, what: str, exc: Exception) -> None:
        self.transport_errors[f"{what} {type(exc).__name__}"] += 1

    @property
    def api_5xx(self) -> int:
        return sum(self.server_errors.values())


def _problem_type(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:60].replace("\n", " ")
    kind = body.get("type", "") if isinstance(body, dict) else ""
    return str(kind).removeprefix("urn:cobro:problem:") or "-"


def _retry_after(response: httpx.Response | None) -> float:
    if response is None:
        return 1.0
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.2), 5.0)
    except ValueError:
        return 1.0


async def create_until_ok(
    api: httpx.AsyncClient, order: Order, tally: Tally, give_up_s: float = 300
) -> bool:
    """POST /v1/payments with the order's Idempotency-Key until the API answers 200/201, as the
    contract asks of merchants: 5xx and connection errors are retried with the same key."""
    deadline = time.monotonic() + give_up_s
    while True:
        order.create_attempts += 1
        response: httpx.Response | None = None
        try:
            response = await api.post(
                "/v1/payments", json=order.body, headers={"Idempotency-Key": order.key}
            )
        except httpx.HTTPError as exc:
            tally.failed("create", exc)
        else:
            tally.record("create", response)
            if response.status_code in (200, 201):
                order.payment = response.json()
                return True
            if response.status_code < 500 and response.status_code != 429:
                order.errors.append(f"create: {response.status_code} {response.text[:300]}")
                return False
        if time.monotonic() > deadline:
            order.errors.append(f"create: no success in {give_up_s:.0f} s")
            return False
        await asyncio.sleep(_retry_after(response))


async def psp_reference(api: httpx.AsyncClient, order: Order, wait_s: float = 120) -> str | None:
    """The order's PSP charge id, waiting while the payment is still pending."""
    deadline = time.monotonic() + wait_s
    while order.payment is not None:
        if order.payment.get("psp_reference"):
            return str(order.payment["psp_reference"])
        if order.payment.get("status") in FINAL or time.monotonic() > deadline:
            return None
        await asyncio.sleep(1)
        try:
            response = await api.get(f"/v1/payments/{order.payment['id']}")
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            order.payment = response.json()
    return None


async def pay(api: httpx.AsyncClient, sim: httpx.AsyncClient, order: Order) -> None:
    """The customer pays at the simulated PSP as the order's plan says (nothing for
    `expire`/`open`, or when the payment has no charge)."""
    if order.spec.plan not in ("pay", "partial"):
        return
    reference = await psp_reference(api, order)
    if reference is None:
        order.errors.append("pay: the payment has no PSP charge to pay")
        return
    amount = PARTIAL_AMOUNT if order.spec.plan == "partial" else None
    for _ in range(30):
        try:
            response = await sim.post(
                "/_sim/pay", json={"psp_reference": reference, "amount": amount}
            )
        except httpx.HTTPError as exc:
            order.errors.append(f"pay: {exc!r}")
            await asyncio.sleep(1)
            continue
        if response.status_code == 200:
            order.paid_amount += amount or AMOUNT
        else:
            order.errors.append(f"pay: {response.status_code} {response.text[:200]}")
        return


# ---- Stripe webhooks sent by the scenario itself ---------------------------------------

STRIPE_AUTH = {"Authorization": f"Bearer {SIMULATOR_STRIPE_API_KEY}"}


async def stripe_intent(sim: httpx.AsyncClient, intent_id: str) -> dict[str, Any]:
    response = await sim.get(f"/stripe/v1/payment_intents/{intent_id}", headers=STRIPE_AUTH)
    response.raise_for_status()
    intent: dict[str, Any] = response.json()
    return intent


def stripe_webhook(intent: dict[str, Any], event_id: str | None = None) -> bytes:
    """The event the simulated Stripe sends for this PaymentIntent's status (same shape as
    simulator/state.py's), to be signed per attempt with `stripe_headers`."""
    event = {
        "id": event_id or f"evt_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "data": {"object": intent},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": f"payment_intent.{intent['status']}",
    }
    return json.dumps(event).encode()


def stripe_headers(body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "Stripe-Signature": signature.sign(body, SIMULATOR_STRIPE_WEBHOOK_SECRET),
    }


async def send_stripe_webhook(
    api: httpx.AsyncClient, body: bytes, tally: Tally, give_up_s: float = 120
) -> bool:
    """POST /webhooks/stripe as Stripe does: retried until a 2xx; every answer is tallied."""
    deadline = time.monotonic() + give_up_s
    while True:
        response: httpx.Response | None = None
        try:
            response = await api.post(
                "/webhooks/stripe", content=body, headers=stripe_headers(body)
            )
        except httpx.HTTPError as exc:
            tally.failed("webhook", exc)
        else:
            tally.record("webhook", response)
            if 200 <= response.status_code < 300:
                return True
            if response.status_code < 500:
                return False
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.5)


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


# ---- merchant webhooks -----------------------------------------------------------------

EVENT_ID = re.compile(r"^evt_(?P<payment>pay_[0-9a-f]+)_(?P<seq>\d+)_(?P<type>[\w.]+)$")
STATUS_EVENTS = {
    "succeeded": "payment.succeeded",
    "expired": "payment.expired",
    "canceled": "payment.canceled",
    "failed": "payment.failed",
}


@dataclass(frozen=True)
class Delivery:
    """One HTTP request a merchant endpoint received: its body and headers."""

    body: bytes
    headers: dict[str, str]


def check_merchant_webhooks(
    received: list[Delivery], secret: str, payments: dict[str, dict[str, Any]]
) -> list[Finding]:
    """Every status event of every payment arrived, exactly once per delivery id, signed, and
    in order per payment (the event id carries the payment's transition seq).

    `payments` maps payment id -> the payment as the API shows it now."""
    webhook = Webhook(secret)
    findings: list[Finding] = []
    per_delivery: Counter[str] = Counter()
    per_payment: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
    for r in received:
        delivery_id = r.headers.get("webhook-id", "")
        per_delivery[delivery_id] += 1
        if per_delivery[delivery_id] > 1:
            continue  # counted below
        try:
            event = webhook.verify(r.body, r.headers)
        except Exception as exc:  # standardwebhooks raises its own WebhookVerificationError
            findings.append(Finding("wrong", None, f"delivery {delivery_id}: bad signature {exc}"))
            continue
        match = EVENT_ID.match(str(event.get("id", "")))
        if match is None:
            findings.append(Finding("wrong", None, f"unexpected event id {event.get('id')!r}"))
            continue
        per_payment[match["payment"]].append((int(match["seq"]), match["type"], delivery_id))
    for delivery_id, count in per_delivery.items():
        if count > 1:
            findings.append(
                Finding("doubled", None, f"delivery {delivery_id} received {count} times")
            )
    for payment_id, payment in payments.items():
        got = per_payment.get(payment_id, [])
        seqs = [seq for seq, _, _ in got]  # a refund's event shares its late payment's seq
        if seqs != sorted(seqs):
            findings.append(
                Finding("wrong", payment_id, f"events out of order: {[(s, t) for s, t, _ in got]}")
            )
        events = Counter((seq, kind) for seq, kind, _ in got)
        for (seq, kind), count in events.items():
            if count > 1:
                findings.append(
                    Finding("doubled", payment_id, f"event {seq} {kind} in {count} deliveries")
                )
        expected = STATUS_EVENTS.get(payment["status"])
        if expected is None and payment["status"] in SUCCEEDED:
            expected = "payment.succeeded"
        if expected is None:
            continue
        matching = {seq for seq, kind, _ in got if kind == expected}
        if not matching:
            findings.append(Finding("lost", payment_id, f"no {expected} received"))
        elif len(matching) > 1:
            findings.append(
                Finding("doubled", payment_id, f"{len(matching)} different {expected} events")
            )
    return findings
