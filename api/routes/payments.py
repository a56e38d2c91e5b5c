"""Merchant payment endpoints: create (idempotent, answers with instructions), read, events."""

import logging
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response

from api.deps import (
    CreatingMerchant,
    CurrentMerchant,
    ReadSessionDep,
    SessionDep,
    SettingsDep,
    TemporalDep,
)
from api.idempotency import request_hash_of
from api.openapi_docs import IDEMPOTENCY_KEY, RETRY_AFTER, merchant, problem
from api.params import Rfc3339DateTime
from api.payment_start import start_workflow, still_to_start
from api.problems import Problem
from api.schemas import CreatePaymentRequest, EventList, EventOut, PaymentList
from cobro.db import merchants_repo, payments_repo, privacy_repo
from cobro.db.models import Payment
from cobro.domain import money
from cobro.domain.ids import new_id, workflow_id
from cobro.domain.methods import LIMITS, PaymentMethod
from cobro.domain.routing import RoutingError, route
from cobro.domain.status import PaymentStatus
from cobro.privacy import sealing
from cobro.secret_box import SecretBox
from cobro.views import PaymentOut

router = APIRouter(prefix="/v1/payments", tags=["payments"])
log = logging.getLogger("cobro.payments")


def _check_crypto(body: CreatePaymentRequest) -> None:
    """`crypto` says what a crypto payment buys; other methods must not carry it."""
    needed = body.method == PaymentMethod.CRYPTO
    if needed == (body.crypto is not None):
        return
    message = (
        'crypto payments need `crypto`: {"currency_code": ..., "wallet_address": ...}'
        if needed
        else f"`crypto` applies only to method 'crypto', not {body.method.value!r}"
    )
    raise Problem(
        422,
        message,
        "crypto-details",
        errors=[
            {
                "field": "body.crypto",
                "message": "required for crypto payments" if needed else "not allowed",
                "type": "missing" if needed else "extra_forbidden",
            }
        ],
    )


def _check_limits(body: CreatePaymentRequest) -> int:
    """Validate against the method's limits; returns the effective expires_in."""
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
            f"{limits.max_amount} centavos ({money.format_pesos(limits.min_amount)}-"
            f"{money.format_amount(limits.max_amount)}); got {body.amount}.",
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


def _payment_links(id_pointer: str) -> dict[str, object]:
    """OpenAPI links from an answer carrying a payment id to what can be done with it."""
    return {
        name: {"operationId": op, "parameters": {"payment_id": f"$response.body#{id_pointer}"}}
        for name, op in [
            ("GetPayment", "get_payment"),
            ("PaymentEvents", "payment_events"),
            ("CancelPayment", "cancel_payment"),
            ("CreateRefund", "create_refund"),
            ("ListRefunds", "list_refunds"),
        ]
    }


NOT_FOUND = problem("`payment-not-found`: no such payment for this merchant.")
CREATE_RESPONSES = merchant(
    {
        200: {
            "model": PaymentOut,
            "description": "A retry with the same Idempotency-Key and body: the same payment.",
            "links": _payment_links("/id"),
        },
        201: {"description": "Created, with its instructions.", "links": _payment_links("/id")},
        400: "`idempotency-key-missing`: no Idempotency-Key header.",
        409: "`idempotency-key-reused`: the key came with another body; `erased`: this "
        "key's payment had its customer data erased.",
        422: "`amount-out-of-range`, `expires-in-out-of-range`, `crypto-details`, "
        "`method-unavailable`, or `no-psp-for-payment` (the pinned PSP is not enabled, or "
        "the merchant's routes take no PSP for it).",
        503: problem(
            "`payment-not-ready`: recorded, but its PSP charge is not confirmed yet; retry "
            "with the same Idempotency-Key. Or `database-unavailable`.",
            RETRY_AFTER,
        ),
    },
    body=True,
)


@router.post("", status_code=201, response_model=PaymentOut, responses=CREATE_RESPONSES)
async def create_payment(
    body: CreatePaymentRequest,
    merchant_id: CreatingMerchant,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(alias="Idempotency-Key", min_length=1, max_length=255, description=IDEMPOTENCY_KEY),
    ],
) -> PaymentOut:
    _check_crypto(body)
    expires_in = _check_limits(body)
    rules = await merchants_repo.rules(session, merchant_id)
    try:
        psps = route(
            body.method,
            body.amount,
            body.psp,
            rules.routes,
            settings.enabled_psps,
            customer=body.customer,
        )
    except RoutingError as exc:
        raise Problem(422, str(exc), "no-psp-for-payment") from exc
    request_hash = request_hash_of(body)
    box = SecretBox(settings.cobro_secret_key.get_secret_value())
    new_payment_id = new_id("pay")
    values = {
        "id": new_payment_id,
        "merchant_id": merchant_id,
        "status": PaymentStatus.PENDING.value,
        "amount": body.amount,
        "currency": body.currency,
        "method": body.method.value,
        "psp": psps[0],
        "customer": body.customer.model_dump(mode="json"),
        "description": body.description,
        "metadata_": body.metadata,
        "crypto": body.crypto.model_dump(mode="json") if body.crypto else None,
    }
    payment_id, first_hash = await payments_repo.claim_idempotency_key(
        session, merchant_id, idempotency_key, request_hash, values
    )
    replayed = payment_id != new_payment_id
    to_start: tuple[Payment, bytes] | None = None
    if not replayed:  # its data key, in the same transaction as the row
        to_start = Payment(**values), sealing.new_data_key()
        await privacy_repo.create_key(session, box, payment_id, to_start[1])
    await session.commit()
    if first_hash != request_hash:
        raise Problem(
            409,
            "This Idempotency-Key was already used with a different request "
            "body; use a new key for a new payment.",
            "idempotency-key-reused",
        )
    if replayed:
        to_start = await still_to_start(session, box, merchant_id, payment_id)
        await session.commit()  # give the connection back while Temporal and the PSP work
    if to_start is not None:
        await start_workflow(
            temporal,
            *to_start,
            psps,
            expires_in,
            settings.timings(),
            rules.late_payment_policy,
        )
    # As the workflow left it (populate_existing: a retry's session already holds the row).
    payment = await session.get(Payment, payment_id, populate_existing=True)
    assert payment is not None
    if replayed:
        response.status_code = 200
    log.info(
        "payment %s %s: %s %s centavos, %s",
        payment.id,
        "replayed (same Idempotency-Key)" if replayed else "created",
        payment.method,
        payment.amount,
        payment.status,
        extra={"payment_id": payment.id, "workflow_id": workflow_id(payment.id)},
    )
    return PaymentOut.model_validate(payment)


async def owned_payment(session: SessionDep, merchant_id: str, payment_id: str) -> Payment:
    payment = await payments_repo.get_payment(session, merchant_id, payment_id)
    if payment is None:
        raise Problem(404, f"No payment {payment_id!r} for this merchant.", "payment-not-found")
    return payment


@router.get("/{payment_id}", response_model=PaymentOut, responses=merchant({404: NOT_FOUND}))
async def get_payment(
    payment_id: str, merchant_id: CurrentMerchant, session: ReadSessionDep
) -> PaymentOut:
    return PaymentOut.model_validate(await owned_payment(session, merchant_id, payment_id))


@router.get("/{payment_id}/events", response_model=EventList, responses=merchant({404: NOT_FOUND}))
async def payment_events(
    payment_id: str, merchant_id: CurrentMerchant, session: ReadSessionDep
) -> EventList:
    await owned_payment(session, merchant_id, payment_id)
    events = await payments_repo.list_events(session, payment_id)
    return EventList(data=[EventOut.model_validate(e) for e in events])


@router.get(
    "",
    response_model=PaymentList,
    responses=merchant(
        {
            404: "`cursor-not-found`: no payment `starting_after` for this merchant.",
            422: "`naive-datetime`: `created_gte` without a time zone.",
        }
    ),
)
async def list_payments(
    merchant_id: CurrentMerchant,
    session: ReadSessionDep,
    status: PaymentStatus | None = None,
    method: PaymentMethod | None = None,
    created_gte: Annotated[Rfc3339DateTime | None, Query(description="RFC 3339, e.g. ...Z")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    starting_after: Annotated[str | None, Query(description="id of the last one seen")] = None,
) -> PaymentList:
    """Newest first. Pass the last id you received as `starting_after` for the next page."""
    if created_gte is not None and created_gte.tzinfo is None:
        raise Problem(
            422, "created_gte needs a time zone, e.g. 2026-11-26T00:00:00Z.", "naive-datetime"
        )
    cursor = None
    if starting_after is not None:
        cursor = await payments_repo.get_payment(session, merchant_id, starting_after)
        if cursor is None:
            raise Problem(
                404,
                f"starting_after: no payment {starting_after!r} for this merchant.",
                "cursor-not-found",
            )
    rows = await payments_repo.list_payments(
        session,
        merchant_id,
        status=status,
        method=method,
        created_gte=created_gte,
        after=cursor,
        limit=limit + 1,
    )
    return PaymentList(
        data=[PaymentOut.model_validate(p) for p in rows[:limit]], has_more=len(rows) > limit
    )
