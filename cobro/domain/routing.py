"""Which PSPs can take a payment, in which order (SPEC §3, issue: routing and failover).

Each PSP declares what it can do; a merchant's routes order the PSPs per method (defaults
below); a `psp` pin on create narrows the list to one. What no PSP can do is a 422 that says why.
"""

from dataclasses import dataclass

from cobro.domain import money
from cobro.domain.methods import PaymentMethod

M = PaymentMethod


@dataclass(frozen=True)
class Capability:
    limits: dict[PaymentMethod, tuple[int, int]]  # centavos, inclusive
    refundable: frozenset[PaymentMethod]


CAPABILITIES: dict[str, Capability] = {
    # Stripe: OXXO 10-10,000 MXN per voucher and never refundable; bank transfers refundable
    # fully or partly (docs.stripe.com/payments/oxxo, /payments/bank-transfers).
    "stripe": Capability(
        {M.OXXO: (1_000, 1_000_000), M.SPEI: (1_000, 100_000_000)}, frozenset({M.SPEI})
    ),
    # Conekta: OXXO Pay vouchers up to 10,000 MXN; refunds of cash and SPEI orders are not
    # offered through its API here (unconfirmed in Conekta's docs, so cobro does not promise
    # them).
    "conekta": Capability({M.OXXO: (1_000, 1_000_000), M.SPEI: (100, 100_000_000)}, frozenset()),
    # STP (direct SPEI): bank transfers only, any amount from 1 centavo (STP's per-transfer
    # limits are not confirmed, so cobro keeps Stripe's ceiling); refunds are new outbound
    # transfers to the payer's account (SPEI payments are irrevocable).
    "stp": Capability({M.SPEI: (1, 100_000_000)}, frozenset({M.SPEI})),
    # MoonPay (crypto on-ramp): crypto only, 200-50,000 MXN. Not refundable through cobro: the
    # crypto is in the customer's wallet once delivered, and when delivery fails MoonPay itself
    # refunds the customer's card/bank payment.
    "moonpay": Capability({M.CRYPTO: (20_000, 5_000_000)}, frozenset()),
}
DEFAULT_ROUTES: dict[PaymentMethod, list[str]] = {
    M.OXXO: ["stripe", "conekta"],
    M.SPEI: ["stripe", "conekta", "stp"],
    M.CRYPTO: ["moonpay"],
}


class RoutingError(Exception):
    """No PSP can take this payment; the message says why."""


def can_refund(psp: str, method: PaymentMethod) -> bool:
    capability = CAPABILITIES.get(psp)
    return capability is not None and method in capability.refundable


def route(
    method: PaymentMethod,
    amount: int,
    pin: str | None,
    merchant_routes: dict[str, list[str]] | None = None,
    enabled: frozenset[str] = frozenset(CAPABILITIES),
) -> list[str]:
    """The PSPs to try, in order."""
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
        else:
            usable.append(psp)
    if not usable:
        raise RoutingError("; ".join(reasons) or f"no PSP takes {method.value}")
    return usable
