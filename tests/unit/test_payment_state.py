"""PaymentState on its own (no Temporal): what PSP events, refunds and ops actions do to a
payment's status and money. Hypothesis drives random stories; a small model of the rules,
written apart from the code, says what the merchant must end with."""

import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobro.domain import payment_checks
from cobro.domain.lifecycle import Event
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import (
    ChargeCreated,
    Customer,
    LatePaymentPolicy,
    PaymentInput,
    PaymentSnapshot,
    PspEvent,
    RefundRecord,
)
from cobro.domain.payment_checks import Refused
from cobro.domain.payment_state import CARRIED, PaymentState
from cobro.domain.payment_steps import Publish, Record, RefundLateMoney, SetFlags, Step
from cobro.domain.status import TRANSITIONS, EventSource, PaymentStatus

S = PaymentStatus
AMOUNT = 25_000
AT = datetime(2026, 12, 1, 18, tzinfo=UTC)
CLABE = "646180111100000018"


def stp_payment(policy: LatePaymentPolicy = "refund") -> PaymentState:
    payment = PaymentInput(
        payment_id="pay_1",
        merchant_id="mer_1",
        amount=AMOUNT,
        currency="MXN",
        method=PaymentMethod.SPEI,
        psps=["stp"],
        customer=Customer(name="Ana"),
        expires_in=86_400,
        late_payment_policy=policy,
        history_version=2,
    )
    state = PaymentState.new(payment)
    state.record("transition", S.PENDING, EventSource.API, "payment created", AT)
    state.charge = ChargeCreated(psp_reference=CLABE, instructions={}, expires_at=AT)
    state.record("transition", S.AWAITING_PAYMENT, EventSource.API, "created", AT)
    return state


def deposits(total: int, n: int) -> PspEvent:
    """STP's word: `total` centavos settled to the CLABE so far (notification n)."""
    return PspEvent(
        psp="stp",
        event_id=f"stp:{n}",
        kind="deposits",
        psp_reference=CLABE,
        psp_status="abono",
        amount_received=total,
        occurred_at=AT,
    )


def records(steps: list[Step]) -> list[Record]:
    return [s for s in steps if isinstance(s, Record)]


def test_a_full_deposit_succeeds_and_tells_the_merchant() -> None:
    state = stp_payment()
    steps = state.on_psp_event(deposits(AMOUNT, 1), AT)
    [record] = records(steps)
    assert (record.transition.from_status, record.transition.to_status) == (
        S.AWAITING_PAYMENT,
        S.SUCCEEDED,
    )
    assert record.transition.seq == 3 and record.transition.amount_received == AMOUNT
    assert record.publish is not None and record.publish.event_id == "evt_pay_1_3_payment.succeeded"
    assert (state.status, state.amount_received, state.refundable) == (S.SUCCEEDED, AMOUNT, AMOUNT)


def test_an_over_payment_succeeds_and_its_excess_is_refunded_by_rule() -> None:
    state = stp_payment()
    steps = state.on_psp_event(deposits(AMOUNT + 5_000, 1), AT)
    assert [type(s) for s in steps] == [Record, Record, RefundLateMoney]
    assert steps[2] == RefundLateMoney(5_000, EventSource.PSP_WEBHOOK)
    assert isinstance(steps[1], Record) and steps[1].transition.late_money_held is None
    assert (state.charge_received, state.extra_received) == (AMOUNT, 5_000)


def test_with_the_hold_rule_late_money_is_held_and_flagged() -> None:
    state = stp_payment(policy="hold")
    state.on_psp_event(deposits(AMOUNT, 1), AT)
    steps = state.on_psp_event(deposits(AMOUNT + 700, 2), AT)
    assert steps[-1] == SetFlags(("late_payment_held",))
    assert state.held_late_money == 700
    # The event says how much it holds (the worker's cobro_late_money_held metrics).
    assert isinstance(steps[0], Record) and steps[0].transition.late_money_held == 700
    amount, flags = state.release_held()
    assert (amount, flags, state.held_late_money) == (700, SetFlags(()), 0)


def test_refunds_reserve_their_amount_and_a_failure_releases_nothing_it_did_not_take() -> None:
    state = stp_payment()
    state.on_psp_event(deposits(AMOUNT, 1), AT)
    payment_checks.check_refund(state, 10_000)
    state.refunds_in_flight += 10_000  # the workflow reserves while the PSP works on it
    with pytest.raises(Refused, match="At most 15000") as refused:
        payment_checks.check_refund(state, 15_001)
    assert refused.value.type == "AmountTooLarge"
    state.refunds_in_flight -= 10_000
    done = RefundRecord(
        refund_id="re_1", payment_id="pay_1", merchant_id="mer_1", amount=10_000,
        status="succeeded", at=AT,
    )  # fmt: skip
    steps = state.refund_succeeded(done, EventSource.API, AT)
    assert isinstance(steps[0], Publish) and steps[0].event.event_id == "evt_re_1_refund.succeeded"
    assert (state.status, state.amount_refunded, state.refundable) == (
        S.PARTIALLY_REFUNDED,
        10_000,
        15_000,
    )


def test_a_failed_refund_of_late_money_holds_it_for_ops() -> None:
    state = stp_payment()
    state.on_psp_event(deposits(AMOUNT + 3_000, 1), AT)
    late = RefundRecord(
        refund_id="re_2", payment_id="pay_1", merchant_id="mer_1", amount=3_000,
        status="failed", origin="late_payment", at=AT,
    )  # fmt: skip
    steps = state.hold_returned_money(late, "devuelta", EventSource.PSP_POLL, AT)
    assert steps[0] == SetFlags(("late_payment_held",))
    assert state.held_late_money == 3_000 and state.status == S.SUCCEEDED
    assert isinstance(steps[1], Record) and steps[1].transition.late_money_held == 3_000


def test_checks_refuse_what_does_not_apply() -> None:
    state = stp_payment()
    with pytest.raises(Refused, match="succeeded payment") as refused:
        payment_checks.check_refund(state, 100)
    assert refused.value.type == "InvalidState"
    payment_checks.check_cancelable(state)
    payment_checks.check_attachable(state)
    with pytest.raises(Refused, match="No late money"):
        payment_checks.check_late(state, "keep")
    state.on_psp_event(deposits(AMOUNT, 1), AT)
    with pytest.raises(Refused, match="can still be paid"):
        payment_checks.check_cancelable(state)
    with pytest.raises(Refused, match="still open"):
        payment_checks.check_open(state, "marked paid")


# ---- properties ---------------------------------------------------------------------------

# A story: STP's cumulative totals as they grow (one per transfer), then the notifications of
# those totals delivered in any order, some twice, with the payment perhaps canceled first.
transfers = st.lists(st.integers(1, 20_000), min_size=1, max_size=6)


@given(transfers, st.randoms(use_true_random=False), st.integers(0, 6))
def test_deposits_in_any_order_end_with_stps_money(
    sizes: list[int], rng: random.Random, cancel_after: int
) -> None:
    totals = [sum(sizes[: i + 1]) for i in range(len(sizes))]
    deliveries = list(enumerate(totals)) * 2  # every notification at least twice
    rng.shuffle(deliveries)
    state = stp_payment()
    last_status, last_seq, seen_max = state.status, state.seq, 0
    for i, (n, total) in enumerate(deliveries):
        if i == cancel_after and state.status == S.AWAITING_PAYMENT:
            steps = state.apply(Event.CANCEL_REQUESTED, EventSource.API, "canceled", AT)
            steps += state.return_partial_money(EventSource.API, AT)
        elif not state.first_sight(f"stp:{n}"):
            continue
        else:
            steps = state.on_psp_event(deposits(total, n), AT)
            seen_max = max(seen_max, total)
        for record in records(steps):  # every record follows the one before it
            t = record.transition
            assert last_status is not None
            assert t.seq == last_seq + 1 and t.from_status == last_status
            assert t.to_status == last_status or t.to_status in TRANSITIONS[last_status]
            last_status, last_seq = t.to_status, t.seq
        assert state.status == last_status
        # Money: exactly what STP reported, never more; the charge never over its amount.
        assert state.amount_received == seen_max
        assert state.charge_received <= AMOUNT
        assert state.amount_received == state.charge_received + state.extra_received
    assert state.amount_received == totals[-1]
    if state.status == S.SUCCEEDED:
        assert state.charge_received == AMOUNT
        assert state.extra_received == totals[-1] - AMOUNT
    else:
        assert state.status in (S.AWAITING_PAYMENT, S.CANCELED)
        assert state.status == S.CANCELED or totals[-1] < AMOUNT


@given(st.lists(st.tuples(st.integers(1, 30_000), st.booleans()), max_size=8))
def test_refunds_never_exceed_what_was_received(asks: list[tuple[int, bool]]) -> None:
    state = stp_payment()
    state.on_psp_event(deposits(AMOUNT, 1), AT)
    for n, (amount, succeeds) in enumerate(asks):
        try:
            payment_checks.check_refund(state, amount)
        except Refused:
            assert amount > state.refundable or state.status == S.REFUNDED
            continue
        record = RefundRecord(
            refund_id=f"re_{n}", payment_id="pay_1", merchant_id="mer_1", amount=amount,
            status="succeeded" if succeeds else "failed", at=AT + timedelta(seconds=n),
        )  # fmt: skip
        if succeeds:  # a failed one releases its reservation and moves no money
            state.refund_succeeded(record, EventSource.API, AT)
        assert 0 <= state.amount_refunded <= state.amount_received == AMOUNT
        expected = S.REFUNDED if state.amount_refunded == AMOUNT else S.PARTIALLY_REFUNDED
        assert state.status == (S.SUCCEEDED if state.amount_refunded == 0 else expected)


def test_a_continued_run_takes_over_the_whole_state() -> None:
    state = stp_payment(policy="hold")
    state.on_psp_event(deposits(AMOUNT + 700, 1), AT)
    state.amount_refunded = 1_000
    snapshot = state.snapshot([], AT)
    assert set(PaymentSnapshot.model_fields) == {
        *CARRIED,
        "flags",
        "seen_event_ids",
        "refunds",
        "close_at",
        "psp_signals_received",
    }
    resumed = PaymentState.resumed(state.payment, snapshot)
    assert resumed == state
