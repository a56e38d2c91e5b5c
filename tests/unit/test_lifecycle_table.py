"""Every (status, event) pair of the lifecycle table, against the outcome written out here.

Outcomes: a status (the payment moves there), "late" (money after expiry, cancellation or
failure: recorded as a late payment, status kept), "same" (the event confirms the current
status), or "refused" (recorded with its reason, never applied).
"""

import itertools

import pytest

from cobro.domain.lifecycle import Event, decide
from cobro.domain.status import PaymentStatus

E, S = Event, PaymentStatus
REFUSED, SAME, LATE = "refused", "same", "late"

EXPECTED: dict[tuple[PaymentStatus, Event], str] = {}
for status, event in itertools.product(S, E):
    EXPECTED[(status, event)] = REFUSED

# From pending: the charge is created or rejected; it can also be canceled or expire.
EXPECTED |= {
    (S.PENDING, E.CHARGE_CREATED): S.AWAITING_PAYMENT,
    (S.PENDING, E.CHARGE_REJECTED): S.FAILED,
    (S.PENDING, E.PSP_FAILED): S.FAILED,
    (S.PENDING, E.PSP_CANCELED): S.CANCELED,
    (S.PENDING, E.PSP_EXPIRED): S.EXPIRED,
    (S.PENDING, E.TIMER_EXPIRED): S.EXPIRED,
    (S.PENDING, E.CANCEL_REQUESTED): S.CANCELED,
    (S.PENDING, E.OPS_FORCE_EXPIRE): S.EXPIRED,
}
for payable in (S.PENDING, S.AWAITING_PAYMENT):
    EXPECTED[(payable, E.CHARGE_CREATED)] = S.AWAITING_PAYMENT if payable == S.PENDING else SAME
EXPECTED |= {
    (S.AWAITING_PAYMENT, E.PSP_PROCESSING): S.PROCESSING,
    (S.AWAITING_PAYMENT, E.PSP_PAID): S.SUCCEEDED,
    (S.AWAITING_PAYMENT, E.OPS_MARK_PAID): S.SUCCEEDED,
    (S.AWAITING_PAYMENT, E.PSP_CANCELED): S.CANCELED,
    (S.AWAITING_PAYMENT, E.CANCEL_REQUESTED): S.CANCELED,
    (S.AWAITING_PAYMENT, E.PSP_EXPIRED): S.EXPIRED,
    (S.AWAITING_PAYMENT, E.TIMER_EXPIRED): S.EXPIRED,
    (S.AWAITING_PAYMENT, E.OPS_FORCE_EXPIRE): S.EXPIRED,
    (S.PROCESSING, E.PSP_PROCESSING): SAME,
    (S.PROCESSING, E.PSP_PAID): S.SUCCEEDED,
    (S.PROCESSING, E.OPS_MARK_PAID): S.SUCCEEDED,
    (S.PROCESSING, E.PSP_FAILED): S.FAILED,
    (S.PROCESSING, E.CHARGE_REJECTED): S.FAILED,
    (S.SUCCEEDED, E.PSP_PAID): SAME,
    (S.SUCCEEDED, E.OPS_MARK_PAID): SAME,
    (S.SUCCEEDED, E.REFUND_SUCCEEDED): S.REFUNDED,
    (S.PARTIALLY_REFUNDED, E.REFUND_SUCCEEDED): S.REFUNDED,
    (S.REFUNDED, E.REFUND_SUCCEEDED): SAME,
    (S.FAILED, E.PSP_FAILED): SAME,
    (S.FAILED, E.CHARGE_REJECTED): SAME,
}
for final in (S.EXPIRED, S.CANCELED, S.FAILED):
    EXPECTED[(final, E.PSP_PAID)] = LATE
    EXPECTED[(final, E.OPS_MARK_PAID)] = LATE
EXPECTED |= {
    (S.EXPIRED, E.PSP_EXPIRED): SAME,
    (S.EXPIRED, E.TIMER_EXPIRED): SAME,
    (S.EXPIRED, E.OPS_FORCE_EXPIRE): SAME,
    (S.CANCELED, E.PSP_CANCELED): SAME,
    (S.CANCELED, E.CANCEL_REQUESTED): SAME,
}


def outcome(status: PaymentStatus, event: Event) -> str:
    decision = decide(status, event)
    if decision.late_payment:
        return LATE
    if decision.confirms:
        return SAME
    return decision.target if decision.target is not None else REFUSED


@pytest.mark.parametrize(("status", "event"), sorted(EXPECTED))
def test_every_status_event_pair(status: PaymentStatus, event: Event) -> None:
    assert outcome(status, event) == EXPECTED[(status, event)]


def test_refused_events_say_why() -> None:
    decision = decide(S.SUCCEEDED, E.PSP_CANCELED)
    assert decision.target is None and not decision.confirms
    assert "succeeded" in decision.reason and "canceled" in decision.reason


def test_a_partial_refund_leaves_the_payment_partially_refunded() -> None:
    for status in (S.SUCCEEDED, S.PARTIALLY_REFUNDED):
        assert decide(status, E.REFUND_SUCCEEDED, fully_refunded=False).target == (
            S.PARTIALLY_REFUNDED
        )
