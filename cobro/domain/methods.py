"""Payment methods and their PSP-imposed limits, in integer centavos."""

from dataclasses import dataclass
from enum import StrEnum


class PaymentMethod(StrEnum):
    SPEI = "spei"
    OXXO = "oxxo"
    CRYPTO = "crypto"


@dataclass(frozen=True)
class MethodLimits:
    min_amount: int
    max_amount: int
    default_expires_in_s: int
    max_expires_in_s: int


DAY_S = 86_400

LIMITS: dict[PaymentMethod, MethodLimits] = {
    # Stripe OXXO: 10.00-10,000.00 MXN per voucher; expiry 1-7 days, default 5
    # (docs.stripe.com/payments/oxxo).
    PaymentMethod.OXXO: MethodLimits(1_000, 1_000_000, 5 * DAY_S, 7 * DAY_S),
    # Stripe's MXN minimum charge is 10.00 MXN; SPEI itself has no scheme maximum, so cobro caps a
    # single payment at 1,000,000 MXN to stop fat-finger amounts.
    PaymentMethod.SPEI: MethodLimits(1_000, 100_000_000, 3 * DAY_S, 30 * DAY_S),
    # Crypto on-ramp (MoonPay): 200-50,000 MXN per purchase (MoonPay's MXN limits are not
    # confirmed; its documented minimum is 20-30 units of USD/EUR). The payment is as good as
    # the quote's locked rate, so it expires when the quote does: 30 minutes by default (the
    # lifetime of the quotes in MoonPay's transaction examples) and at most 24 hours, beyond
    # which no on-ramp holds a crypto price and a customer's MXN transfer must be re-quoted.
    PaymentMethod.CRYPTO: MethodLimits(20_000, 5_000_000, 30 * 60, DAY_S),
}

SUPPORTED_METHODS = frozenset(LIMITS)
CURRENCIES = frozenset({"MXN"})

# Methods whose charge is paid in full or not at all: an OXXO voucher is paid once, at the
# store, for its exact amount. A SPEI transfer can bring any part of the amount (deposits add
# up), and a crypto purchase can be of another amount when the on-ramp ignores the locked one
# (cobro/psp/moonpay/README.md).
PAID_IN_FULL_OR_NOT_AT_ALL = frozenset({PaymentMethod.OXXO})


def can_be_partly_paid(method: PaymentMethod) -> bool:
    return method not in PAID_IN_FULL_OR_NOT_AT_ALL
