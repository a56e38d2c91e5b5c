"""The payment status table against SPEC §3, pair by pair.

SPEC §3: pending -> (awaiting_payment | failed) -> processing -> succeeded -> (partially_refunded
-> refunded); from pending or awaiting_payment a payment can also end expired or canceled;
succeeded, failed, expired, canceled and refunded never go back to an earlier status.
The table below is written out from the SPEC, not copied from the code.
"""

import itertools

import pytest

from cobro.domain.status import PAYABLE, TRANSITIONS, PaymentStatus, can_move

SPEC_STATUSES = [
    "pending",
    "awaiting_payment",
    "processing",
    "succeeded",
    "partially_refunded",
    "refunded",
    "failed",
    "expired",
    "canceled",
]

SPEC_ALLOWED: dict[str, set[str]] = {
    "pending": {"awaiting_payment", "failed", "expired", "canceled"},
    # OXXO/SPEI confirmations arrive as one event: awaiting_payment -> succeeded directly.
    "awaiting_payment": {"processing", "succeeded", "expired", "canceled"},
    "processing": {"succeeded", "failed"},
    "succeeded": {"partially_refunded", "refunded"},
    # A second partial refund keeps it partially_refunded.
    "partially_refunded": {"partially_refunded", "refunded"},
    "refunded": set(),
    "failed": set(),
    "expired": set(),
    "canceled": set(),
}

# The happy path in order; a move to a lower rank is a move backwards.
RANK = {s: i for i, s in enumerate(SPEC_STATUSES[:6])}
FINAL = ["succeeded", "failed", "expired", "canceled", "refunded"]

ALL_PAIRS = list(itertools.product(SPEC_STATUSES, repeat=2))


def test_statuses_are_exactly_the_specs() -> None:
    assert sorted(s.value for s in PaymentStatus) == sorted(SPEC_STATUSES)


def test_every_status_has_a_row_in_the_table() -> None:
    assert set(TRANSITIONS) == set(PaymentStatus)


@pytest.mark.parametrize("current", SPEC_STATUSES)
def test_allowed_moves_of_each_status_are_exactly_the_specs(current: str) -> None:
    allowed = {target.value for target in TRANSITIONS[PaymentStatus(current)]}
    assert allowed == SPEC_ALLOWED[current]


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_can_move_for_every_pair(current: str, target: str) -> None:
    expected = target in SPEC_ALLOWED[current]
    assert can_move(PaymentStatus(current), PaymentStatus(target)) is expected


@pytest.mark.parametrize("final", FINAL)
def test_final_statuses_never_move_back(final: str) -> None:
    for target in SPEC_STATUSES:
        if not can_move(PaymentStatus(final), PaymentStatus(target)):
            continue
        # The only way out of a final status is a refund of a succeeded payment.
        assert final == "succeeded", f"{final} -> {target}"
        assert target in {"partially_refunded", "refunded"}


@pytest.mark.parametrize(("current", "target"), ALL_PAIRS, ids=[f"{a}->{b}" for a, b in ALL_PAIRS])
def test_no_move_goes_backwards_along_the_happy_path(current: str, target: str) -> None:
    if current in RANK and target in RANK and RANK[target] < RANK[current]:
        assert not can_move(PaymentStatus(current), PaymentStatus(target))


def test_nothing_ever_returns_to_pending() -> None:
    assert not any(PaymentStatus.PENDING in targets for targets in TRANSITIONS.values())


def test_no_cycles_except_another_partial_refund() -> None:
    """Following allowed moves, no status is ever reached again (so none is undone)."""

    def reachable(start: PaymentStatus) -> set[PaymentStatus]:
        seen: set[PaymentStatus] = set()
        todo = [t for t in TRANSITIONS[start] if t != start]
        while todo:
            status = todo.pop()
            if status not in seen:
                seen.add(status)
                todo += [t for t in TRANSITIONS[status] if t != status]
        return seen

    for status in PaymentStatus:
        assert status not in reachable(status), f"{status} can come back to itself"
    self_loops = {s.value for s in PaymentStatus if s in TRANSITIONS[s]}
    assert self_loops == {"partially_refunded"}


def test_every_status_is_reachable_from_pending() -> None:
    seen, todo = {PaymentStatus.PENDING}, [PaymentStatus.PENDING]
    while todo:
        for target in TRANSITIONS[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert seen == set(PaymentStatus)


def test_payable_statuses_are_those_a_cancel_or_expiry_can_end() -> None:
    # SPEC §3: only pending / awaiting_payment can end expired or canceled (cancel is 200 there,
    # 409 otherwise).
    can_end = {
        s.value
        for s in PaymentStatus
        if can_move(s, PaymentStatus.CANCELED) and can_move(s, PaymentStatus.EXPIRED)
    }
    assert can_end == {"pending", "awaiting_payment"}
    assert {s.value for s in PAYABLE} == can_end
