"""A payment's state, and what each PSP event, merchant request and ops action does to it.

Pure and deterministic: no I/O, no clock (callers pass `at`), no randomness. PaymentWorkflow
holds one PaymentState and carries out the steps its methods return (payment_steps.py), in
order: record an event (projection, search attributes, the merchant event it causes), publish a
merchant event, set the flags ops filter on, refund late money. Each method changes the state
as it builds its steps, so a later step sees the status an earlier one moved to, as the
workflow will once it ran them.

The money of a payment, in integer centavos:
- charge_received: applied to the charge (PSPs report it cumulatively, so it only grows);
- extra_received: money the PSP kept for the customer instead of the charge (an over-payment, a
  transfer after the charge was voided, money on a charge we failed over from): never lost;
- attached_received: SPEI deposits ops attached from another CLABE (counted in the above too);
- amount_received = charge_received + extra_received;
- amount_refunded: refunds that succeeded; refunds_in_flight: reserved by refunds not final yet,
  so refunded + reserved never exceeds received;
- held_late_money: late money the merchant's rule (or a failed refund) left for ops.
"""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cobro.domain.lifecycle import Decision, Event, decide
from cobro.domain.merchant_events import STATUS_EVENTS, MerchantEventInput
from cobro.domain.payment import (
    ChargeCreated,
    EventKind,
    PaymentInput,
    PaymentSnapshot,
    PspEvent,
    RefundRecord,
    Transition,
)
from cobro.domain.payment_steps import Publish, Record, RefundLateMoney, SetFlags, Step
from cobro.domain.routing import can_refund
from cobro.domain.status import PAYABLE, EventSource, PaymentStatus

S = PaymentStatus
WAITING = PAYABLE | {S.PROCESSING}
REFUNDABLE = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})
# What a PSP's report about the charge means for the lifecycle table.
PSP_EVENTS: dict[str, Event] = {
    "paid": Event.PSP_PAID,
    "processing": Event.PSP_PROCESSING,
    "failed": Event.PSP_FAILED,
    "canceled": Event.PSP_CANCELED,
    "expired": Event.PSP_EXPIRED,
}


# The fields a continued run takes over as they are (flags and event ids change type).
CARRIED = (
    "psp",
    "status",
    "seq",
    "charge",
    "charge_received",
    "extra_received",
    "attached_received",
    "amount_refunded",
    "held_late_money",
)


@dataclass
class PaymentState:
    payment: PaymentInput
    psp: str  # where the charge is (or is being) created
    status: PaymentStatus | None = None
    seq: int = 0
    charge: ChargeCreated | None = None
    charge_received: int = 0
    extra_received: int = 0
    attached_received: int = 0
    amount_refunded: int = 0
    refunds_in_flight: int = 0
    held_late_money: int = 0
    flags: frozenset[str] = frozenset()
    seen_event_ids: set[str] = field(default_factory=set)

    @classmethod
    def new(cls, payment: PaymentInput) -> "PaymentState":
        return cls(payment=payment, psp=payment.psps[0])

    @classmethod
    def resumed(cls, payment: PaymentInput, snapshot: PaymentSnapshot) -> "PaymentState":
        """The state a continued run starts from (history version 3)."""
        carried = {name: getattr(snapshot, name) for name in CARRIED}
        return cls(
            payment=payment,
            flags=frozenset(snapshot.flags),
            seen_event_ids=set(snapshot.seen_event_ids),
            **carried,
        )

    def snapshot(
        self, refunds: list[RefundRecord], close_at: datetime, psp_signals_received: int = 0
    ) -> PaymentSnapshot:
        """All a succeeded payment's refund window needs; only with no refund in flight."""
        assert self.status is not None and self.charge is not None
        assert self.refunds_in_flight == 0
        return PaymentSnapshot(
            flags=sorted(self.flags),
            seen_event_ids=sorted(self.seen_event_ids),
            refunds=refunds,
            close_at=close_at,
            psp_signals_received=psp_signals_received,
            **{name: getattr(self, name) for name in CARRIED},
        )

    @property
    def amount_received(self) -> int:
        return self.charge_received + self.extra_received

    @property
    def refundable(self) -> int:
        return self.amount_received - self.amount_refunded - self.refunds_in_flight

    def current(self) -> PaymentStatus:
        assert self.status is not None
        return self.status

    # ---- recording ---------------------------------------------------------------------------

    def record(
        self,
        kind: EventKind,
        to: PaymentStatus,
        source: EventSource,
        detail: str,
        at: datetime,
        publish: str | None = None,
        **fields: Any,
    ) -> Record:
        """The next event of the payment: its status and sequence move now."""
        previous, self.status = self.status, to
        self.seq += 1
        transition = Transition(
            payment_id=self.payment.payment_id,
            seq=self.seq,
            kind=kind,
            from_status=previous,
            to_status=to,
            at=at,
            source=source,
            detail=detail,
            **fields,
        )
        return Record(transition, self.merchant_event(publish) if publish else None)

    def merchant_event(self, event_type: str, refund_id: str | None = None) -> MerchantEventInput:
        # A payment event is unique by the transition (seq) that causes it. A refund event is
        # unique by its refund, which ends once: a failed refund moves no seq, so two failures
        # in a row would otherwise share an id and the second would be dropped as a duplicate.
        unique = refund_id if refund_id is not None else f"{self.payment.payment_id}_{self.seq}"
        return MerchantEventInput(
            event_id=f"evt_{unique}_{event_type}",
            payment_id=self.payment.payment_id,
            merchant_id=self.payment.merchant_id,
            type=event_type,
            refund_id=refund_id,
        )

    def set_flag(self, flag: str, on: bool) -> SetFlags:
        self.flags = self.flags | {flag} if on else self.flags - {flag}
        return SetFlags(tuple(sorted(self.flags)))

    def apply(
        self, event: Event, source: EventSource, detail: str, at: datetime, **fields: Any
    ) -> list[Step]:
        return self.record_decision(decide(self.current(), event), source, detail, at, **fields)

    def record_decision(
        self, decision: Decision, source: EventSource, detail: str, at: datetime, **fields: Any
    ) -> list[Step]:
        if decision.target is not None:
            publish = STATUS_EVENTS.get(decision.target)
            return [
                self.record("transition", decision.target, source, detail, at, publish, **fields)
            ]
        if decision.confirms:  # already there: nothing to record
            return []
        ignored = f"{detail}; ignored: {decision.reason}"
        return [self.record("ignored", self.current(), source, ignored, at, **fields)]

    # ---- PSP events --------------------------------------------------------------------------

    def first_sight(self, event_id: str) -> bool:
        """False for an event already seen (PSPs redeliver; polls repeat)."""
        if event_id in self.seen_event_ids:
            return False
        self.seen_event_ids.add(event_id)
        return True

    def on_psp_event(self, event: PspEvent, at: datetime) -> list[Step]:
        """A PSP's report about the charge (any kind but "refund")."""
        detail = f"{event.psp} {event.psp_status} ({event.event_id})"
        if event.kind == "deposits":
            return self._on_deposits(event, detail, at)
        if self.charge and event.psp_reference == self.charge.customer_reference:
            # Money the PSP kept for the customer instead of the charge (Stripe cash balance:
            # an over-payment, or a transfer after the charge was voided). Never lost.
            self.extra_received += event.amount_received
            return self.late_money(event.amount_received, event.source, detail, at)
        if self.charge and event.psp_reference != self.charge.psp_reference:
            # A charge this payment does not use: one voided at a PSP we failed over from.
            if event.amount_received > 0:  # money on it is still the customer's: never lost
                self.extra_received += event.amount_received
                # Held: cobro refunds through the charge it uses, not through this one.
                return self.late_money(event.amount_received, event.source, detail, at, hold=True)
            ignored = (
                f"{detail}; ignored: {event.psp_reference} is not this payment's charge "
                f"({self.charge.psp_reference})"
            )
            return [self.record("ignored", self.current(), event.source, ignored, at)]
        if event.kind == "partially_paid":
            if event.amount_received <= self.charge_received or self.status not in PAYABLE:
                return []
            self.charge_received = event.amount_received
            partial = (
                f"received {event.amount_received} of {self.payment.amount} centavos; {detail}"
            )
            return [
                self.record(
                    "partial_payment",
                    self.current(),
                    event.source,
                    partial,
                    at,
                    amount_received=self.amount_received,
                )
            ]
        psp_event = PSP_EVENTS.get(event.kind)
        if psp_event is None:
            return []
        decision = decide(self.current(), psp_event)
        if decision.late_payment:  # the charge itself was paid after it expired
            late = event.amount_received - self.charge_received
            if late <= 0:
                return []
            self.charge_received = event.amount_received
            return self.late_money(late, event.source, detail, at)
        fields: dict[str, Any] = {}
        if psp_event == Event.PSP_PAID:
            self.charge_received = max(self.charge_received, event.amount_received)
            fields["amount_received"] = self.amount_received
        if decision.target == S.FAILED and event.failure_reason:
            fields["failure_reason"] = event.failure_reason  # MoonPay says which stage failed
        steps = self.record_decision(decision, event.source, detail, at, **fields)
        if decision.target == S.CANCELED:
            steps += self.return_partial_money(event.source, at)
        return steps

    def _on_deposits(self, event: PspEvent, detail: str, at: datetime) -> list[Step]:
        """A direct SPEI provider (STP) reports the total it confirmed deposited to the
        payment's CLABE, cumulatively (so duplicates and reordering change nothing). What is
        new goes to the charge up to its amount (partial payment, then success); anything
        beyond it, or arriving once the payment cannot be paid, is extra money under the
        late-money rule, exactly as Stripe's cash balance is."""
        total = event.amount_received + self.attached_received  # ops attach deposits too
        new = total - self.amount_received
        if new <= 0:
            return []  # already counted: a redelivery, or a total a newer one overtook
        steps: list[Step] = []
        if self.status in PAYABLE:  # nothing is extra yet: amount_received == charge_received
            to_charge = min(total, self.payment.amount)
            new -= to_charge - self.charge_received
            kind = "paid" if to_charge >= self.payment.amount else "partially_paid"
            steps += self.on_psp_event(
                event.model_copy(update={"kind": kind, "amount_received": to_charge}), at
            )
        if new > 0:
            self.extra_received += new
            # Beyond the charge, attached money is held: it may not come from the payer.
            hold = bool(self.attached_received)
            steps += self.late_money(new, event.source, detail, at, hold=hold)
        return steps

    def credit_attached(self, event_id: str, amount: int, detail: str, at: datetime) -> list[Step]:
        """A deposit ops attached (from another CLABE): counted like one more deposit."""
        assert self.charge is not None
        self.seen_event_ids.add(event_id)
        psp_total = self.amount_received - self.attached_received  # STP's total so far
        self.attached_received += amount
        event = PspEvent(
            psp=self.psp,
            event_id=event_id,
            kind="deposits",
            psp_reference=self.charge.psp_reference,
            psp_status=detail,
            amount_received=psp_total,
            occurred_at=at,
            source=EventSource.OPS,
        )
        return self._on_deposits(event, f"{detail} ({event_id})", at)

    def return_partial_money(self, source: EventSource, at: datetime) -> list[Step]:
        """A payment that ended unpaid keeps no partial transfer: the late-money rule applies."""
        if self.charge_received <= 0:
            return []
        detail = f"partial payment when {self.status}"
        return self.late_money(self.charge_received, source, detail, at)

    def late_money(
        self, amount: int, source: EventSource, detail: str, at: datetime, hold: bool = False
    ) -> list[Step]:
        """Money the payment cannot use (late, partial at expiry, or over-payment), already
        counted as received: record it, then apply the merchant's rule (refund where the
        method allows, else hold for ops)."""
        policy = self.payment.late_payment_policy
        refund = not hold and policy == "refund" and can_refund(self.psp, self.payment.method)
        action = "refunding it" if refund else "held for ops"
        steps: list[Step] = [
            self.record(
                "late_payment",
                self.current(),
                source,
                f"{amount} centavos arrived while {self.status}; {action} ({detail})",
                at,
                "payment.late_payment",
                amount_received=self.amount_received,
                late_money_held=None if refund else amount,
            )
        ]
        if refund:
            steps.append(RefundLateMoney(amount, source))
        else:
            self.held_late_money += amount
            steps.append(self.set_flag("late_payment_held", True))
        return steps

    # ---- ops actions (payment_checks.py says when they apply) ----------------------------------

    def mark_paid(self, amount: int, detail: str, at: datetime) -> list[Step]:
        """Ops saw the money (a bank statement, say) where no PSP event says so."""
        self.charge_received = max(self.charge_received, amount)
        return self.apply(
            Event.OPS_MARK_PAID,
            EventSource.OPS,
            detail,
            at,
            amount_received=self.amount_received,
        )

    def release_held(self) -> tuple[int, SetFlags]:
        """Ops resolve the late money held for them: how much it was."""
        amount, self.held_late_money = self.held_late_money, 0
        return amount, self.set_flag("late_payment_held", False)

    # ---- refunds -------------------------------------------------------------------------------

    def refund_succeeded(
        self, record: RefundRecord, source: EventSource, at: datetime
    ) -> list[Step]:
        """The money went back: tell the merchant, count it, move the status."""
        steps: list[Step] = [Publish(self.merchant_event("refund.succeeded", record.refund_id))]
        self.amount_refunded += record.amount
        detail = f"refund {record.refund_id} of {record.amount} centavos ({record.origin})"
        if record.origin != "late_payment" and self.status in REFUNDABLE:
            decision = decide(
                self.current(),
                Event.REFUND_SUCCEEDED,
                fully_refunded=self.amount_refunded >= self.amount_received,
            )
            return steps + self.record_decision(
                decision, source, detail, at, amount_refunded=self.amount_refunded
            )
        # Returning late or excess money leaves the payment's status where it is.
        steps.append(
            self.record(
                "late_payment",
                self.current(),
                source,
                detail,
                at,
                amount_refunded=self.amount_refunded,
            )
        )
        return steps

    def hold_returned_money(
        self, record: RefundRecord, reason: str, source: EventSource, at: datetime
    ) -> list[Step]:
        """A refund of late money failed: that money is still here, held for ops."""
        self.held_late_money += record.amount
        detail = (
            f"refund {record.refund_id} of {record.amount} centavos failed ({reason}); "
            f"the money is held for ops"
        )
        return [
            self.set_flag("late_payment_held", True),
            self.record(
                "late_payment", self.current(), source, detail, at, late_money_held=record.amount
            ),
        ]
