"""Merchant payment endpoints: create (idempotent, answers with instructions), read, events."""

import hashlib
import json
from datetime import timedelta

from fastapi import APIRouter, Header, Response
from temporalio.client import (
    WithStartWorkflowOperation,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.service import RPCError

from api.deps import CurrentMerchant, SessionDep, SettingsDep, TemporalDep
from api.problems import Problem
from api.schemas import CreatePaymentRequest, EventList, EventOut, PaymentOut
from cobro import search_attributes as sa
from cobro.db import payments_repo
from cobro.db.models import Payment
from cobro.domain.ids import new_id, workflow_id
from cobro.domain.methods import LIMITS, PaymentMethod
from cobro.domain.payment import Customer, PaymentInput
from cobro.domain.status import PaymentStatus
from workflows.payment import TASK_QUEUE, PaymentWorkflow

router = APIRouter(prefix="/v1/payments", tags=["payments"])

SUPPORTED_PSPS = {"stripe"}
CREATE_WAIT = timedelta(seconds=20)  # how long a create waits for the PSP charge


def _check_limits(body: CreatePaymentRequest) -> int:
    """Validate against the method's PSP limits; returns the effective expires_in."""
    if body.psp is not None and body.psp not in SUPPORTED_PSPS:
        raise Problem(
            422,
            f"PSP {body.psp!r} is not available; choose one of "
            f"{sorted(SUPPORTED_PSPS)} or leave `psp` null.",
            "psp-unavailable",
        )
    limits = LIMITS.get(body.method)
    if limits is None:
        raise Problem(
            422,
            f"No configured PSP supports method {body.method.value!r} yet.",
            "method-unavailable",
        )
    if not limits.min_amount <= body.amount <= limits.max_amount:
        raise Problem(
            422,
            f"{body.method.value} amounts must be between {limits.min_amount} and "
            f"{limits.max_amount} centavos ({limits.min_amount / 100:,.2f}-"
            f"{limits.max_amount / 100:,.2f} MXN); got {body.amount}.",
            "amount-out-of-range",
            errors=[
                {
                    "field": "body.amount",
                    "message": "outside the method's limits",
                    "type": "amount_out_of_range",
                    "min": limits.min_amount,
                    "max": limits.max_amount,
                }
            ],
        )
    expires_in = body.expires_in or limits.default_expires_in_s
    if expires_in > limits.max_expires_in_s:
        raise Problem(
            422,
            f"{body.method.value} payments expire within at most "
            f"{limits.max_expires_in_s} seconds; got {expires_in}.",
            "expires-in-out-of-range",
        )
    return expires_in


def _request_hash(body: CreatePaymentRequest) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _start_workflow(
    temporal: TemporalDep, payment: Payment, expires_in: int, grace_seconds: int
) -> None:
    """Start the payment's workflow (once) and wait until its PSP charge exists."""
    method = PaymentMethod(payment.method)
    start = WithStartWorkflowOperation(
        PaymentWorkflow.run,
        PaymentInput(
            payment_id=payment.id,
            merchant_id=payment.merchant_id,
            amount=payment.amount,
            currency=payment.currency,
            method=method,
            psp=payment.psp,
            customer=Customer.model_validate(payment.customer),
            description=payment.description,
            metadata=payment.metadata_,
            expires_in=expires_in,
            grace_seconds=grace_seconds,
        ),
        id=workflow_id(payment.id),
        task_queue=TASK_QUEUE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        search_attributes=TypedSearchAttributes(
            [
                SearchAttributePair(sa.PAYMENT_STATUS, PaymentStatus.PENDING.value),
                SearchAttributePair(sa.PAYMENT_METHOD, method.value),
                SearchAttributePair(sa.MERCHANT_ID, payment.merchant_id),
                SearchAttributePair(sa.PSP, payment.psp),
                SearchAttributePair(sa.AMOUNT_CENTAVOS, payment.amount),
            ]
        ),
        static_summary=f"{payment.amount / 100:,.2f} {payment.currency} by {method.value} "
        f"via {payment.psp} for {payment.merchant_id}",
    )
    try:
        await temporal.execute_update_with_start_workflow(
            PaymentWorkflow.create,
            start_workflow_operation=start,
            id="create",
            rpc_timeout=CREATE_WAIT,
        )
    except (WorkflowUpdateRPCTimeoutOrCancelledError, RPCError) as exc:
        raise Problem(
            503,
            "The payment was recorded but its PSP charge is not confirmed yet; "
            "retry with the same Idempotency-Key to get its instructions.",
            "payment-not-ready",
            headers={"Retry-After": "2"},
        ) from exc
    except WorkflowUpdateFailedError:
        pass  # the workflow recorded why; the payment row shows `failed` and its reason


@router.post("", status_code=201, response_model=PaymentOut)
async def create_payment(
    body: CreatePaymentRequest,
    merchant_id: CurrentMerchant,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: str | None = Header(default=None, max_length=255),
) -> PaymentOut:
    if not idempotency_key:
        raise Problem(
            400,
            "Send an `Idempotency-Key` header (for example a UUID) so a retried "
            "create never makes a second payment.",
            "idempotency-key-missing",
        )
    expires_in = _check_limits(body)
    request_hash = _request_hash(body)
    new_payment_id = new_id("pay")
    payment_id, first_hash = await payments_repo.claim_idempotency_key(
        session,
        merchant_id,
        idempotency_key,
        request_hash,
        {
            "id": new_payment_id,
            "merchant_id": merchant_id,
            "status": PaymentStatus.PENDING.value,
            "amount": body.amount,
            "currency": body.currency,
            "method": body.method.value,
            "psp": body.psp or "stripe",
            "customer": body.customer.model_dump(mode="json"),
            "description": body.description,
            "metadata_": body.metadata,
        },
    )
    await session.commit()
    if first_hash != request_hash:
        raise Problem(
            409,
            "This Idempotency-Key was already used with a different request "
            "body; use a new key for a new payment.",
            "idempotency-key-reused",
        )
    payment = await payments_repo.get_payment(session, merchant_id, payment_id)
    assert payment is not None
    if payment.status == PaymentStatus.PENDING:
        await _start_workflow(temporal, payment, expires_in, settings.expiry_grace_seconds)
        await session.refresh(payment)
    if payment_id != new_payment_id:
        response.status_code = 200
    return PaymentOut.of(payment)


async def _owned(session: SessionDep, merchant_id: str, payment_id: str) -> Payment:
    payment = await payments_repo.get_payment(session, merchant_id, payment_id)
    if payment is None:
        raise Problem(404, f"No payment {payment_id!r} for this merchant.", "payment-not-found")
    return payment


@router.get("/{payment_id}", response_model=PaymentOut)
async def get_payment(
    payment_id: str, merchant_id: CurrentMerchant, session: SessionDep
) -> PaymentOut:
    return PaymentOut.of(await _owned(session, merchant_id, payment_id))


@router.get("/{payment_id}/events", response_model=EventList)
async def payment_events(
    payment_id: str, merchant_id: CurrentMerchant, session: SessionDep
) -> EventList:
    await _owned(session, merchant_id, payment_id)
    events = await payments_repo.list_events(session, payment_id)
    return EventList(data=[EventOut.of(e) for e in events])
