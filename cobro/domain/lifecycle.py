"""What each event does to a payment: the one table the workflow applies (SPEC §3).

`decide(status, event)` answers move / late payment / ignore. Ignored events are still recorded
with the reason, so the log shows everything that happened, including what was refused.
"""

from dataclasses import dataclass
from enum import StrEnum

from cobro.domain.status import PaymentStatus, can_move

S = PaymentStatus


class Event(StrEnum):
    CHARGE_CREATED = "charge_created"  # the PSP issued the voucher / CLABE
    CHARGE_REJECTED = "charge_rejected"  # the PSP refused to create it (validation, decline)
    PSP_PROCESSING = "psp_processing"
    PSP_PAID = "psp_paid"  # the full amount was received
    PSP_FAILED = "psp_failed"
    PSP_CANCELED = "psp_canceled"  # voided at the PSP (by us or by the PSP)
    PSP_EXPIRED = "psp_expired"
    TIMER_EXPIRED = "timer_expired"  # expiry + grace passed without payment
    CANCEL_REQUESTED = "cancel_requested"  # merchant API or ops
    REFUND_SUCCEEDED = "refund_succeeded"
    OPS_MARK_PAID = "ops_mark_paid"
    OPS_FORCE_EXPIRE = "ops_force_expire"


TARGETS: dict[Event, PaymentStatus] = {
    Event.CHARGE_CREATED: S.AWAITING_PAYMENT,
    Event.CHARGE_REJECTED: S.FAILED,
    Event.PSP_PROCESSING: S.PROCESSING,
    Event.PSP_PAID: S.SUCCEEDED,
    Event.PSP_FAILED: S.FAILED,
    Event.PSP_CANCELED: S.CANCELED,
    Event.PSP_EXPIRED: S.EXPIRED,
    Event.TIMER_EXPIRED: S.EXPIRED,
    Event.CANCEL_REQUESTED: S.CANCELED,
    Event.REFUND_SUCCEEDED: S.REFUNDED,  # PARTIALLY_REFUNDED when money is left; see decide()
    Event.OPS_MARK_PAID: S.SUCCEEDED,
    Event.OPS_FORCE_EXPIRE: S.EXPIRED,
}

# Money that arrives once the payment can no longer be paid is not lost: it is a late payment
# (a failed payment too: a MoonPay customer may buy again after a declined card).
LATE_PAYMENT_STATUSES = frozenset({S.EXPIRED, S.CANCELED, S.FAILED})
MONEY_EVENTS = frozenset({Event.PSP_PAID, Event.OPS_MARK_PAID})


@dataclass(frozen=True)
class Decision:
    target: PaymentStatus | None  # None: nothing changes
    late_payment: bool = False
    # The event only confirms the current status (e.g. the PSP echoing our own void).
    confirms: bool = False
    reason: str = ""

    @property
    def moves(self) -> bool:
        return self.target is not None


def decide(current: PaymentStatus, event: Event, fully_refunded: bool = True) -> Decision:
    target = TARGETS[event]
    if event == Event.REFUND_SUCCEEDED and not fully_refunded:
        target = S.PARTIALLY_REFUNDED
    if event in MONEY_EVENTS and current in LATE_PAYMENT_STATUSES:
        return Decision(None, late_payment=True, reason=f"money arrived after {current}")
    if can_move(current, target):
        return Decision(target)
    if current == target:
        return Decision(None, confirms=True, reason=f"already {current}")
    return Decision(None, reason=f"{event} cannot move a {current} payment to {target}")
