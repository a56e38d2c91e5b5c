# mypy: disable-error-code="empty-body"
"""The activities' interface: their names, inputs and results, and nothing of their code.

Workflows call activities through these stubs (`workflow.execute_activity(create_charge, ...)`),
so workflow modules import no activity code, database driver or HTTP client, and run inside
Temporal's sandbox with only this module and `cobro.domain` passed through. The worker registers
the implementations in `activities/` under the same names; a test checks that every stub has one.
"""

from datetime import date, datetime

from pydantic import BaseModel
from temporalio import activity

from cobro.domain.merchant_events import MerchantEventInput
from cobro.domain.payment import (
    ChargeCreated,
    PaymentInput,
    PspEvent,
    PspRefundRequest,
    PspRefundResult,
    RefundRecord,
    Transition,
)


def psp_task_queue(psp: str) -> str:
    """History version 4: status checks and voids at a PSP run on a task queue of that PSP's
    own, whose activity rate Temporal caps for all workers together (COBRO_PSP_RATE_LIMITS),
    so a herd of expiring payments never calls a PSP faster than it allows."""
    return f"psp-{psp}"


# ---- inputs and results ----------------------------------------------------------------------


class ChargeRequest(BaseModel):
    payment: PaymentInput
    psp: str
    # Decided by the workflow, so a retried activity asks for the same expiry.
    expires_at: datetime


class ChargeLookup(BaseModel):
    psp: str
    psp_reference: str


class RefundLookup(BaseModel):
    psp: str
    refund_reference: str  # the PSP's id of the refund (Stripe re_..., STP claveRastreo)


class OrphanLookup(BaseModel):
    psp: str
    payment_id: str


class TransitionBatch(BaseModel):
    """Events written in one transaction, then the merchant event they cause, if any."""

    transitions: list[Transition]
    publish: MerchantEventInput | None = None


class DepositClaim(BaseModel):
    event_id: str  # as `cobro ops unmatched` lists it: stp:<abono id>
    payment_id: str


class AttachedDeposit(BaseModel):
    event_id: str
    amount: int
    clave_rastreo: str


class ReconcileDay(BaseModel):
    day: date


class DaySummary(BaseModel):
    day: date
    counts: dict[str, int]
    mismatched_payments: list[str]
    # The counts per PSP (empty in summaries from before there was more than Stripe).
    by_psp: dict[str, dict[str, int]] = {}


# ---- the activities, by name (implemented in activities/) ------------------------------------
# The bodies never run: a workflow only schedules the activity by its name.


@activity.defn(name="create_charge")
async def create_charge(request: ChargeRequest) -> ChargeCreated: ...


@activity.defn(name="get_charge")
async def get_charge(lookup: ChargeLookup) -> PspEvent: ...


@activity.defn(name="cancel_charge")
async def cancel_charge(lookup: ChargeLookup) -> None: ...


@activity.defn(name="refund_charge")
async def refund_charge(request: PspRefundRequest) -> PspRefundResult: ...


@activity.defn(name="get_refund")
async def get_refund(lookup: RefundLookup) -> PspRefundResult: ...


@activity.defn(name="void_orphan_charges")
async def void_orphan_charges(lookup: OrphanLookup) -> list[str]: ...


@activity.defn(name="record_transition")
async def record_transition(transition: Transition) -> None: ...


@activity.defn(name="record_transitions")
async def record_transitions(batch: TransitionBatch) -> None: ...


@activity.defn(name="record_refund")
async def record_refund(refund: RefundRecord) -> None: ...


@activity.defn(name="publish_merchant_event")
async def publish_merchant_event(event: MerchantEventInput) -> int: ...


@activity.defn(name="attach_unmatched_deposit")
async def attach_unmatched_deposit(claim: DepositClaim) -> AttachedDeposit: ...


@activity.defn(name="reconcile_day")
async def reconcile_day(request: ReconcileDay) -> DaySummary: ...


@activity.defn(name="deliver_webhook")
async def deliver_webhook(delivery_id: str) -> str: ...


@activity.defn(name="give_up_delivery")
async def give_up_delivery(delivery_id: str) -> None: ...
