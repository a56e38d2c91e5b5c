"""Actions on an existing payment: cancel, and refunds (both Temporal updates)."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Response

from api.deps import CreatingMerchant, CurrentMerchant, ReadSessionDep, SessionDep, TemporalDep
from api.idempotency import request_hash_of
from api.openapi_docs import IDEMPOTENCY_KEY, RETRY_AFTER, merchant, problem
from api.problems import Problem
from api.routes.payments import NOT_FOUND, owned_payment
from api.schemas import CancelBody, RefundBody, RefundList
from api.updates import UpdateRefused, call_update
from cobro.db import refunds_repo
from cobro.domain.ids import new_id, workflow_id
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import CancelRequest, RefundRequest
from cobro.domain.routing import can_refund
from cobro.domain.status import PAYABLE, PaymentStatus
from cobro.views import PaymentOut, RefundOut
from workflows.payment import PaymentWorkflow

router = APIRouter(prefix="/v1/payments", tags=["payments"])
UPDATE_WAIT = timedelta(seconds=30)
REFUNDABLE = {PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED}
# What a payment workflow's update answers when it does not answer in time (api/updates.py).
UPDATE_UNAVAILABLE = problem(
    "`update-timeout` or `temporal-unavailable`: retry the same request after `Retry-After`; "
    "or `database-unavailable`.",
    RETRY_AFTER,
)
PSP_REJECTED = problem("`psp-rejected`: the PSP refused it; `detail` says why.")
CANCEL_RESPONSES = merchant(
    {
        404: NOT_FOUND,
        409: "`not-cancelable` or `invalid-state`: the payment can no longer be paid; "
        "`payment-closed`: its workflow has closed.",
        502: PSP_REJECTED,
        503: UPDATE_UNAVAILABLE,
    },
    body=True,
)
REFUND_RESPONSES = merchant(
    {
        200: {
            "model": RefundOut,
            "description": "A retry with the same Idempotency-Key and body: the same refund.",
        },
        400: "`idempotency-key-missing`: no Idempotency-Key header.",
        404: NOT_FOUND,
        409: "`invalid-state`: only a succeeded payment can be refunded; "
        "`idempotency-key-reused`: the key came with another request; `payment-closed`: its "
        "refund window is over.",
        422: "`not-refundable`: this PSP cannot refund this method; `amount-too-large`: more "
        "than is left to refund.",
        502: PSP_REJECTED,
        503: UPDATE_UNAVAILABLE,
    },
    body=True,
)


@router.post("/{payment_id}/cancel", response_model=PaymentOut, responses=CANCEL_RESPONSES)
async def cancel_payment(
    payment_id: str,
    merchant_id: CurrentMerchant,
    session: SessionDep,
    temporal: TemporalDep,
    body: CancelBody | None = None,
) -> PaymentOut:
    payment = await owned_payment(session, merchant_id, payment_id)
    if payment.status not in PAYABLE:
        raise Problem(
            409,
            f"Only a payment that can still be paid can be canceled; this one is {payment.status}.",
            "not-cancelable",
        )
    handle = temporal.get_workflow_handle(workflow_id(payment_id))
    reason = body.reason if body else None
    await session.commit()  # give the connection back while the workflow works
    await call_update(
        handle.execute_update(
            PaymentWorkflow.cancel, CancelRequest(reason=reason), rpc_timeout=UPDATE_WAIT
        )
    )
    await session.refresh(payment)
    return PaymentOut.model_validate(payment)


@router.post(
    "/{payment_id}/refunds", status_code=201, response_model=RefundOut, responses=REFUND_RESPONSES
)
async def create_refund(
    payment_id: str,
    body: RefundBody,
    merchant_id: CreatingMerchant,
    session: SessionDep,
    temporal: TemporalDep,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(alias="Idempotency-Key", min_length=1, max_length=255, description=IDEMPOTENCY_KEY),
    ],
) -> RefundOut:
    payment = await owned_payment(session, merchant_id, payment_id)
    if not can_refund(payment.psp, PaymentMethod(payment.method)):
        raise Problem(
            422,
            f"{payment.psp} cannot refund {payment.method} payments: the money "
            f"can only be returned outside cobro.",
            "not-refundable",
        )
    new_refund_id = new_id("re")
    refund = await refunds_repo.find_by_key(session, merchant_id, idempotency_key)
    if refund is None:
        if payment.status not in REFUNDABLE:
            raise Problem(
                409,
                f"Only a succeeded payment can be refunded; this one is {payment.status}.",
                "invalid-state",
            )
        pending = await refunds_repo.pending_total(session, payment_id)
        left = payment.amount_received - payment.amount_refunded - pending
        amount = body.amount if body.amount is not None else left
        if amount > left or amount <= 0:
            raise Problem(
                422,
                f"At most {left} centavos can still be refunded; asked for {amount}.",
                "amount-too-large",
            )
        refund = await refunds_repo.claim(
            session,
            merchant_id,
            payment_id,
            idempotency_key,
            request_hash_of(body),
            new_refund_id,
            amount,
            body.reason,
        )
        await session.commit()
    if refund.payment_id != payment_id or refund.request_hash != request_hash_of(body):
        raise Problem(
            409,
            "This Idempotency-Key was already used with a different request; "
            "use a new key for a new refund.",
            "idempotency-key-reused",
        )
    if refund.status == "pending":
        handle = temporal.get_workflow_handle(workflow_id(payment_id))
        request = RefundRequest(refund_id=refund.id, amount=refund.amount, reason=refund.reason)
        await session.commit()  # give the connection back while the workflow works
        try:
            await call_update(
                handle.execute_update(
                    PaymentWorkflow.refund, request, id=refund.id, rpc_timeout=UPDATE_WAIT
                )
            )
        except UpdateRefused:
            await refunds_repo.forget(session, refund.id)
            await session.commit()
            raise
        await session.refresh(refund)
    if refund.id != new_refund_id:
        response.status_code = 200
    return RefundOut.model_validate(refund)


@router.get(
    "/{payment_id}/refunds", response_model=RefundList, responses=merchant({404: NOT_FOUND})
)
async def list_refunds(
    payment_id: str, merchant_id: CurrentMerchant, session: ReadSessionDep
) -> RefundList:
    await owned_payment(session, merchant_id, payment_id)
    refunds = await refunds_repo.list_for_payment(session, payment_id)
    return RefundList(data=[RefundOut.model_validate(r) for r in refunds])
