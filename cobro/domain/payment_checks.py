"""What may be asked of a payment as it is now: each check raises Refused, naming why, for the
workflow's update validators (so an invalid request never enters history) and handlers."""

from typing import Literal

from cobro.domain.payment_state import REFUNDABLE, WAITING, PaymentState
from cobro.domain.routing import accepts_deposit_claims, can_refund, deposit_claim_psps
from cobro.domain.status import PAYABLE


class Refused(Exception):
    """A request that does not apply to the payment as it is; `type` names the refusal."""

    def __init__(self, message: str, type_: str) -> None:
        super().__init__(message)
        self.type = type_


def check_cancelable(state: PaymentState) -> None:
    if state.status not in PAYABLE:
        raise Refused(
            f"Only a payment that can still be paid can be canceled; this one is {state.status}.",
            "NotCancelable",
        )


def check_refund(state: PaymentState, amount: int) -> None:
    payment = state.payment
    if not can_refund(state.psp, payment.method):
        raise Refused(
            f"{state.psp} cannot refund {payment.method} payments: the money "
            f"can only be returned outside cobro.",
            "NotRefundable",
        )
    if state.status not in REFUNDABLE:
        raise Refused(
            f"Only a succeeded payment can be refunded; this one is {state.status}.",
            "InvalidState",
        )
    if amount > state.refundable:
        raise Refused(
            f"At most {state.refundable} centavos can still be refunded; asked for {amount}.",
            "AmountTooLarge",
        )


def check_open(state: PaymentState, what: str) -> None:
    """Ops mark paid or force expire only a payment still open."""
    if state.status not in WAITING:
        raise Refused(
            f"Only a payment that is still open can be {what}; this one is {state.status}.",
            "OpsRefused",
        )


def check_attachable(state: PaymentState) -> None:
    if state.charge is None or not accepts_deposit_claims(state.psp):
        where = f"at {state.psp}" if state.charge else "not created"
        raise Refused(
            f"Only a payment at {' or '.join(deposit_claim_psps())} takes deposits; this "
            f"one's charge is {where}.",
            "OpsRefused",
        )


def check_late(state: PaymentState, action: Literal["refund", "keep"]) -> None:
    if state.held_late_money <= 0:
        raise Refused("No late money is held for ops on this payment.", "OpsRefused")
    if action == "refund" and not can_refund(state.psp, state.payment.method):
        raise Refused(
            f"{state.psp} cannot refund {state.payment.method} payments: return "
            f"the money outside cobro, then resolve with action 'keep'.",
            "OpsRefused",
        )
