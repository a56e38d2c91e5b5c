"""A time-skipping Temporal test server with cobro's real worker (activities included)."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from cobro import search_attributes
from cobro.data_converter import converter_for
from cobro.db import payments_repo
from cobro.devstack.temporal import installed_binary
from cobro.domain.ids import new_id, workflow_id
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer, LatePaymentPolicy, PaymentInput, Timings
from cobro.domain.status import PaymentStatus
from cobro.payload_keys import new_key_entry, parse_keys
from cobro.settings import Settings
from tests.stack import CobroProcesses
from worker.main import build_psp_workers, build_worker
from workflows.payment import HISTORY_VERSION, PaymentWorkflow

GRACE_S = 3600
# Encrypted payloads, as in production (cobro/data_converter.py), under a key of this run.
CONVERTER = converter_for(parse_keys(new_key_entry("workflow-tests")))


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    # A fresh test server per test: its virtual clock is global and can run years ahead after
    # a test, while the simulator dates OXXO vouchers by the real clock.
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=CONVERTER,
        # The SDK waits 5 s by default; a loaded 2-core CI machine can need more.
        test_server_startup_timeout=timedelta(seconds=30),
    ) as started:
        await search_attributes.register(started.client, "default")
        yield started


@pytest.fixture
async def worker_env(
    env: WorkflowEnvironment,
    cobro: CobroProcesses,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[WorkflowEnvironment]:
    """The real worker (PSP calls go to the real simulator, projections to PostgreSQL)."""
    sim_settings = settings.model_copy(
        update={"cobro_sim_port": int(cobro.sim_url.rsplit(":")[-1])}
    )
    async with httpx.AsyncClient(timeout=10) as http, contextlib.AsyncExitStack() as workers:
        await workers.enter_async_context(build_worker(env.client, sim_settings, http, sessions))
        for psp_worker in build_psp_workers(env.client, sim_settings, http, sessions):
            await workers.enter_async_context(psp_worker)
        yield env


async def start_payment(
    env: WorkflowEnvironment,
    sessions: async_sessionmaker[AsyncSession],
    merchant_id: str,
    method: PaymentMethod = PaymentMethod.OXXO,
    policy: LatePaymentPolicy = "refund",
    amount: int = 25_000,
    timings: Timings | None = None,
) -> tuple[WorkflowHandle[PaymentWorkflow, PaymentStatus], PaymentInput]:
    """Store a payment row as the API does, then start its workflow."""
    payment = PaymentInput(
        payment_id=new_id("pay"),
        merchant_id=merchant_id,
        amount=amount,
        currency="MXN",
        method=method,
        psps=["stripe"],
        customer=Customer(name="Ana"),
        expires_in=2 * 86_400,
        timings=timings or Timings(grace=GRACE_S),
        late_payment_policy=policy,
        history_version=HISTORY_VERSION,
    )
    async with sessions.begin() as session:
        await payments_repo.claim_idempotency_key(
            session,
            merchant_id,
            str(uuid.uuid4()),
            "hash",
            {
                "id": payment.payment_id,
                "merchant_id": merchant_id,
                "status": "pending",
                "amount": payment.amount,
                "currency": "MXN",
                "method": method.value,
                "psp": "stripe",
                "customer": {"name": "Ana"},
                "description": None,
                "metadata_": {},
            },
        )
    handle = await env.client.start_workflow(
        PaymentWorkflow.run, payment, id=workflow_id(payment.payment_id), task_queue="payments"
    )
    return handle, payment


async def until_status(
    handle: WorkflowHandle[PaymentWorkflow, PaymentStatus], status: PaymentStatus
) -> None:
    """Wait until the workflow has applied what it was sent (as a merchant waits for the
    payment.succeeded webhook before refunding): a signal and an update sent back to back may
    reach the workflow in one task, where the update's validator runs first."""
    for _ in range(300):
        if await handle.query(PaymentWorkflow.current_status) == status:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the payment did not become {status} within 30 s")


async def event_log(
    sessions: async_sessionmaker[AsyncSession], payment_id: str
) -> list[tuple[str, str, str, str]]:
    """The payment's recorded events as (kind, to_status, source, detail)."""
    async with sessions() as session:
        rows = await payments_repo.list_events(session, payment_id)
    return [(e.kind, e.to_status, e.source, e.detail or "") for e in rows]
