"""What PaymentState decides, for PaymentWorkflow to carry out in order (see payment_state.py)."""

from dataclasses import dataclass

from cobro.domain.merchant_events import MerchantEventInput
from cobro.domain.payment import Transition
from cobro.domain.status import EventSource


@dataclass(frozen=True)
class Record:
    """Write one event of the payment; then tell the merchant, when it is one of theirs."""

    transition: Transition
    publish: MerchantEventInput | None = None


@dataclass(frozen=True)
class Publish:
    event: MerchantEventInput


@dataclass(frozen=True)
class SetFlags:
    flags: tuple[str, ...]  # every flag now set, sorted (the PaymentFlags search attribute)


@dataclass(frozen=True)
class RefundLateMoney:
    amount: int
    source: EventSource


Step = Record | Publish | SetFlags | RefundLateMoney
