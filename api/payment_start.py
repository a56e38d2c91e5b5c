"""Starting a payment's workflow from the create request: once, with what the workflow may
carry (the customer sealed under the payment's own key), and waiting for its PSP charge."""

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import (
    Client,
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

from api.problems import Problem
from cobro import search_attributes as sa
from cobro.db import payments_repo, privacy_repo
from cobro.db.models import Payment
from cobro.domain import money
from cobro.domain.ids import workflow_id
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import LatePaymentPolicy, PaymentInput, Timings
from cobro.domain.status import PaymentStatus
from cobro.privacy import sealing
from cobro.secret_box import SecretBox
from cobro.task_queues import PAYMENTS
from workflows.payment import HISTORY_VERSION, PaymentWorkflow

CREATE_WAIT = timedelta(seconds=20)  # how long a create waits for the PSP charge


def _sealed_details(payment: Payment, key: bytes) -> str:
    """What the workflow carries of who pays: sealed under the payment's own key, for ops to
    read through the codec server until the customer is erased (the workflow never needs it:
    the activity that calls the PSP reads PostgreSQL)."""
    details = {
        "customer": payment.customer,
        "description": payment.description,
        "metadata": payment.metadata_,
        "crypto": payment.crypto,
    }
    return sealing.seal(key, payment.id, details)


async def start_workflow(
    temporal: Client,
    payment: Payment,
    key: bytes,
    psps: list[str],
    expires_in: int,
    timings: Timings,
    late_payment_policy: LatePaymentPolicy,
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
            psps=psps,
            private=_sealed_details(payment, key),
            expires_in=expires_in,
            timings=timings,
            late_payment_policy=late_payment_policy,
            history_version=HISTORY_VERSION,
        ),
        id=workflow_id(payment.id),
        task_queue=PAYMENTS,
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
        static_summary=f"{money.format_amount(payment.amount, payment.currency)} by {method.value} "
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


async def still_to_start(
    session: AsyncSession, box: SecretBox, merchant_id: str, payment_id: str
) -> tuple[Payment, bytes] | None:
    """A retried create: the payment and its data key if its PSP charge may not exist yet
    (still `pending`: the first request may have stopped before the workflow started)."""
    payment = await payments_repo.get_payment(session, merchant_id, payment_id)
    assert payment is not None
    if payment.status != PaymentStatus.PENDING:
        return None
    key = await privacy_repo.key_of(session, box, payment.id)
    if key is None:
        raise Problem(409, "This payment's customer data was erased; create a new one.", "erased")
    return payment, key
