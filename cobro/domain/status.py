"""Payment statuses (SPEC §3) and the rule that final statuses never move backwards."""

from enum import StrEnum


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AWAITING_PAYMENT = "awaiting_payment"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELED = "canceled"


class EventSource(StrEnum):
    """Why a transition happened (`source` in GET /v1/payments/{id}/events)."""

    API = "api"
    PSP_WEBHOOK = "psp_webhook"
    PSP_POLL = "psp_poll"
    TIMER = "timer"
    OPS = "ops"
    RECONCILIATION = "reconciliation"


S = PaymentStatus

# Allowed moves. Anything not listed (backwards, or out of a final status) is ignored.
TRANSITIONS: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    S.PENDING: frozenset({S.AWAITING_PAYMENT, S.FAILED, S.EXPIRED, S.CANCELED}),
    S.AWAITING_PAYMENT: frozenset({S.PROCESSING, S.SUCCEEDED, S.EXPIRED, S.CANCELED}),
    S.PROCESSING: frozenset({S.SUCCEEDED, S.FAILED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.REFUNDED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELED: frozenset(),
}

# Statuses in which the customer can still pay.
PAYABLE = frozenset({S.PENDING, S.AWAITING_PAYMENT})
# Statuses after which the workflow has nothing left to wait for (refunds come in a later issue).
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.EXPIRED, S.CANCELED, S.REFUNDED})


def can_move(current: PaymentStatus, target: PaymentStatus) -> bool:
    return target in TRANSITIONS[current]
