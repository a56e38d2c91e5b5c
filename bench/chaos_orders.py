"""The merchant's orders in a chaos run: what each one is (method, PSP, plan), creating it through
the API as merchants must (retrying with its Idempotency-Key), paying it in the simulator, and a
tally of every answer the API gave."""

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from bench.chaos_statuses import FINAL

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
            # Every field any PSP needs (Conekta: email and phone): failover may reach any.
            "customer": {
                "name": "Ana López",
                "email": f"ana+{self.index}@example.mx",
                "phone": f"55{self.index:08d}",
            },
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
