"""Which PSPs can take a payment, in which order (SPEC §3, issue: routing and failover).

Each PSP declares what it can do; a merchant's routes order the PSPs per method (defaults
below); a `psp` pin on create narrows the list to one. What no PSP can do is a 422 that says why.
"""

from cobro.domain import money
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer
from cobro.psp.connector import Capability
from cobro.psp.connectors import BY_NAME, CAPABILITIES

__all__ = ["CAPABILITIES", "DEFAULT_ROUTES", "Capability", "RoutingError", "can_refund", "route"]

# Each PSP's capability is in its connector (cobro/psp/<name>/capability.py). By default a
# method goes to the PSPs that take it, in the order they are registered (cobro/psp/connectors.py).
DEFAULT_ROUTES: dict[PaymentMethod, list[str]] = {
    method: names
    for method in PaymentMethod
    if (names := [name for name, c in CAPABILITIES.items() if method in c.limits])
}


class RoutingError(Exception):
    """No PSP can take this payment; the message says why."""


def can_refund(psp: str, method: PaymentMethod) -> bool:
    capability = CAPABILITIES.get(psp)
    return capability is not None and method in capability.refundable


def accepts_deposit_claims(psp: str | None) -> bool:
    """Ops may attach a kept deposit that matched no payment to a payment at this PSP."""
    connector = BY_NAME.get(psp or "")
    return connector is not None and connector.capability.accepts_deposit_claims


def deposit_claim_psps() -> list[str]:
    return [name for name, c in CAPABILITIES.items() if c.accepts_deposit_claims]


def route(
    method: PaymentMethod,
    amount: int,
    pin: str | None,
    merchant_routes: dict[str, list[str]] | None = None,
    enabled: frozenset[str] = frozenset(CAPABILITIES),
    *,
    customer: Customer,
) -> list[str]:
    """The PSPs to try, in order: those that take the method, the amount and this customer
    (a PSP that needs a customer field the payment lacks is skipped, so failover never reaches
    it either)."""
    if pin is not None:
        if pin not in CAPABILITIES or pin not in enabled:
            raise RoutingError(
                f"PSP {pin!r} is not available; choose one of "
                f"{sorted(enabled)} or leave `psp` null."
            )
        candidates = [pin]
    else:
        candidates = (merchant_routes or {}).get(method.value) or DEFAULT_ROUTES.get(method, [])
        candidates = [p for p in candidates if p in enabled]
    reasons = []
    usable = []
    for psp in candidates:
        limits = CAPABILITIES[psp].limits.get(method)
        if limits is None:
            reasons.append(f"{psp} does not take {method.value}")
        elif not limits[0] <= amount <= limits[1]:
            reasons.append(
                f"{psp} takes {method.value} between {limits[0]} and {limits[1]} "
                f"centavos ({money.format_pesos(limits[0])}-{money.format_amount(limits[1])})"
            )
        elif refusal := CAPABILITIES[psp].refuses_customer(psp, customer):
            reasons.append(refusal)
        else:
            usable.append(psp)
    if not usable:
        raise RoutingError("; ".join(reasons) or f"no PSP takes {method.value}")
    return usable
