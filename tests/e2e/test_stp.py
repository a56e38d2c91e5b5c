"""STP (direct SPEI) end to end through the real processes: the CLABE cobro issues, deposits
("abonos") notified over Basic auth from allowlisted sources and confirmed with STP's order
query before they count, partial and over-payments, refunds as outbound SPEI transfers, late
money after a cancel, and deposits to CLABEs that match no payment (held or returned)."""

import asyncio
import base64
import contextlib
import json
import secrets
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from clabe import compute_control_digit, validate_clabe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client, WorkflowUpdateFailedError

from cobro.db.models import WebhookInbox
from cobro.domain.ids import workflow_id
from cobro.domain.methods import PaymentMethod
from cobro.domain.ops_requests import OpsAttachDeposit
from cobro.domain.payment import Customer, PaymentInput
from cobro.psp.stp import mapping
from cobro.psp.stp.adapter import StpAdapter, clave_rastreo_for
from cobro.psp.stp.client import StpClient
from cobro.psp.stp.config import (
    SIMULATOR_STP_CLABE_PREFIX,
    SIMULATOR_STP_EMPRESA,
    SIMULATOR_STP_WEBHOOK_PASSWORD,
    SIMULATOR_STP_WEBHOOK_USER,
)
from cobro.psp.stp.firma import cadena_consulta_orden, dev_signer
from tests.e2e.helpers import SPEI_BODY, charge, create, events, wait_for_status, wait_until
from tests.e2e.test_webhook_receiver import assert_problem
from tests.stack import CobroProcesses, free_port
from workflows.payment import PaymentWorkflow

STP_BODY: dict[str, Any] = {**SPEI_BODY, "psp": "stp"}
AUTH = (SIMULATOR_STP_WEBHOOK_USER, SIMULATOR_STP_WEBHOOK_PASSWORD)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def unregistered_clabe() -> str:
    first17 = f"646180{SIMULATOR_STP_CLABE_PREFIX}" + f"{secrets.randbelow(10**7):07d}"
    return first17 + str(compute_control_digit(first17))


def abono(clabe: str, monto: object = 250.0, **fields: Any) -> dict[str, Any]:
    """A deposit notification in STP's field format."""
    return {
        "id": secrets.randbelow(10**12),
        "fechaOperacion": int(datetime.now(UTC).strftime("%Y%m%d")),
        "institucionOrdenante": 40012,
        "institucionBeneficiaria": 90646,
        "claveRastreo": f"TEST{secrets.randbelow(10**12):012d}",
        "monto": monto,
        "nombreOrdenante": "Ana López",
        "tipoCuentaOrdenante": 40,
        "cuentaOrdenante": "012180015555555557",
        "rfcCurpOrdenante": "ND",
        "nombreBeneficiario": "Cobro Pagos SA de CV",
        "tipoCuentaBeneficiario": 40,
        "cuentaBeneficiario": clabe,
        "conceptoPago": "Pago",
        "referenciaNumerica": 1234567,
        "empresa": SIMULATOR_STP_EMPRESA,
        "tipoPago": 1,
        "tsLiquidacion": str(int(time.time() * 1000)),
        **fields,
    }


async def post_abono(
    url: str,
    body: dict[str, Any] | bytes,
    auth: tuple[str, str] | None = AUTH,
    forwarded_for: str | None = None,
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    if auth is not None:
        headers["Authorization"] = _basic(*auth)
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post("/webhooks/stp", content=content, headers=headers)


async def consulta_orden(sim: httpx.AsyncClient, clave: str, tipo: str) -> dict[str, Any]:
    """STP's own record of an order, from the simulator's STP API."""
    query = {"empresa": SIMULATOR_STP_EMPRESA, "claveRastreo": clave, "tipoOrden": tipo}
    query["firma"] = dev_signer().sign(cadena_consulta_orden(query))  # STP checks it
    response = await sim.post("/stp/efws/API/consultaOrden", json=query)
    assert response.status_code == 200, response.text
    respuesta: dict[str, Any] = response.json()["respuesta"]
    return respuesta


async def inbox_row(
    sessions: async_sessionmaker[AsyncSession], event_id: str
) -> WebhookInbox | None:
    async with sessions() as session:
        row: WebhookInbox | None = await session.scalar(
            select(WebhookInbox).where(WebhookInbox.psp == "stp", WebhookInbox.event_id == event_id)
        )
        return row


async def pay(sim: httpx.AsyncClient, reference: str, amount: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"psp_reference": reference}
    if amount is not None:
        body["amount"] = amount
    response = await sim.post("/_sim/pay", json=body)
    assert response.status_code == 200, response.text
    paid: dict[str, Any] = response.json()
    return paid


async def test_an_stp_payment_end_to_end(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    response = await create(api, STP_BODY)
    assert response.status_code == 201, response.text
    payment = response.json()
    instructions = payment["instructions"]
    clabe = instructions["clabe"]
    assert payment["psp"] == "stp" and payment["psp_reference"] == clabe
    assert clabe.startswith(f"646180{SIMULATOR_STP_CLABE_PREFIX}") and validate_clabe(clabe)
    assert instructions["bank"] == "STP" and instructions["beneficiary"]
    assert len(instructions["reference"]) == 7 and instructions["reference"].isdigit()
    assert instructions["expires_at"].endswith("Z")
    registered = await charge(sim, clabe)
    assert registered["psp"] == "stp" and registered["create_calls"] == 1
    assert registered["idempotency_key"] == f"cobro-payment-{payment['id']}"
    assert (registered["amount"], registered["amount_paid"]) == (STP_BODY["amount"], 0)

    deposit = (await pay(sim, clabe))["abono"]
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == STP_BODY["amount"]
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "psp_webhook")
    assert (await charge(sim, clabe))["status"] == "paid"
    row = await inbox_row(sessions, f"stp:{deposit['id']}")
    assert row is not None and row.payment_id == payment["id"] and row.forwarded_at is not None
    assert json.loads(row.raw_body)["monto"] == STP_BODY["amount"] / 100  # pesos on the wire

    # STP redelivers the same abono: confirmed again, nothing changes.
    again = await post_abono(str(api.base_url), row.raw_body)
    assert again.status_code == 200 and again.json() == {"mensaje": "confirmar"}
    await asyncio.sleep(0.5)
    assert [e["to_status"] for e in await events(api, payment["id"])].count("succeeded") == 1


async def test_two_partial_deposits_complete_a_payment(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, STP_BODY)).json()
    clabe = payment["psp_reference"]
    await pay(sim, clabe, 10_000)

    async def partial_recorded() -> Any:
        return [e for e in await events(api, payment["id"]) if e["type"] == "partial_payment"]

    await wait_until(partial_recorded, "the partial deposit to be recorded", timeout_s=20)
    seen = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert (seen["status"], seen["amount_received"]) == ("awaiting_payment", 10_000)

    await pay(sim, clabe, 15_000)
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert (done["amount_received"], done["amount_refunded"]) == (25_000, 0)
    assert (await charge(sim, clabe))["amount_paid"] == 25_000


async def test_an_over_payment_succeeds_and_the_excess_goes_back_to_the_payer(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, STP_BODY)).json()
    clabe = payment["psp_reference"]
    deposit = (await pay(sim, clabe, 30_000))["abono"]
    await wait_for_status(api, payment["id"], "succeeded")

    async def excess_returned() -> Any:
        ledger = await charge(sim, clabe)
        return ledger if ledger["amount_refunded"] == 5_000 else None

    ledger = await wait_until(excess_returned, "the excess to be refunded", timeout_s=30)
    assert ledger["amount_paid"] == 30_000

    async def recorded() -> Any:
        seen = (await api.get(f"/v1/payments/{payment['id']}")).json()
        return seen if seen["amount_refunded"] == 5_000 else None

    seen = await wait_until(recorded, "the refund to be recorded", timeout_s=10)
    assert seen["status"] == "succeeded"  # returning an excess leaves it succeeded
    assert (seen["amount_received"], seen["amount_refunded"]) == (30_000, 5_000)
    kinds = [e["type"] for e in await events(api, payment["id"])]
    assert "late_payment" in kinds
    [refund] = (await api.get(f"/v1/payments/{payment['id']}/refunds")).json()["data"]
    assert (refund["amount"], refund["status"]) == (5_000, "succeeded")
    # The refund is an outbound SPEI transfer from the CLABE to the payer's account.
    orden = await consulta_orden(sim, clave_rastreo_for(refund["id"]), "E")
    assert orden["cuentaBeneficiario"] == deposit["cuentaOrdenante"]
    assert orden["cuentaOrdenante"] == clabe and orden["monto"] == 50.0


async def test_a_partial_refund_is_an_outbound_transfer_to_the_payer(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, STP_BODY)).json()
    clabe = payment["psp_reference"]
    deposit = (await pay(sim, clabe))["abono"]
    await wait_for_status(api, payment["id"], "succeeded")

    response = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 10_000, "reason": "requested_by_customer"},
        headers={"Idempotency-Key": f"stp-refund-{payment['id']}"},
    )
    assert response.status_code == 201, response.text
    refund = response.json()
    assert refund["status"] == "succeeded" and refund["amount"] == 10_000
    done = await wait_for_status(api, payment["id"], "partially_refunded")
    assert done["amount_refunded"] == 10_000
    ledger = await charge(sim, clabe)
    assert (ledger["amount_paid"], ledger["amount_refunded"]) == (25_000, 10_000)
    orden = await consulta_orden(sim, clave_rastreo_for(refund["id"]), "E")
    assert orden["cuentaBeneficiario"] == deposit["cuentaOrdenante"]
    assert orden["monto"] == 100.0 and orden["estado"] == "LQ"


async def test_a_deposit_after_a_cancel_is_late_money_and_returned(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, STP_BODY)).json()
    clabe = payment["psp_reference"]
    canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    # STP cannot void a CLABE: the customer can still send money, and cobro returns it.
    assert (await charge(sim, clabe))["status"] == "registered"
    await pay(sim, clabe)

    async def returned() -> Any:
        ledger = await charge(sim, clabe)
        return ledger if ledger["amount_refunded"] == STP_BODY["amount"] else None

    await wait_until(returned, "the late deposit to be refunded", timeout_s=30)
    seen = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert seen["status"] == "canceled" and seen["amount_received"] == STP_BODY["amount"]
    assert "late_payment" in [e["type"] for e in await events(api, payment["id"])]


async def test_a_partial_deposit_goes_back_at_expiry_and_so_does_a_later_one(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, {**STP_BODY, "expires_in": 3})).json()
    clabe = payment["psp_reference"]
    await pay(sim, clabe, 10_000)
    await wait_for_status(api, payment["id"], "expired", timeout_s=30)

    async def refunded(amount: int) -> Any:
        ledger = await charge(sim, clabe)
        return ledger if ledger["amount_refunded"] == amount else None

    await wait_until(lambda: refunded(10_000), "the partial deposit to go back", timeout_s=30)
    await pay(sim, clabe, 7_000)  # the customer sends more, too late
    await wait_until(lambda: refunded(17_000), "the late deposit to go back", timeout_s=30)

    async def recorded() -> Any:
        seen = (await api.get(f"/v1/payments/{payment['id']}")).json()
        return seen if seen["amount_refunded"] == 17_000 else None

    seen = await wait_until(recorded, "the refunds to be recorded", timeout_s=10)
    assert seen["status"] == "expired" and seen["amount_received"] == 17_000


async def test_a_lost_notification_is_recovered_by_asking_stp(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = (await create(api, STP_BODY)).json()
    await sim.put("/_sim/chaos", json={"drop_rate": 1.0})
    await pay(sim, payment["psp_reference"])
    await wait_for_status(api, payment["id"], "succeeded", timeout_s=30)
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "psp_poll")


async def test_a_deposit_stp_does_not_know_is_never_credited(
    cobro: CobroProcesses, api: httpx.AsyncClient
) -> None:
    """Right credentials, right CLABE, but STP's order query has no such transfer."""
    payment = (await create(api, STP_BODY)).json()
    forged = abono(payment["psp_reference"], monto=250.0)
    response = await post_abono(cobro.api_url, forged)
    assert_problem(response, 503)
    await asyncio.sleep(1)
    seen = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert (seen["status"], seen["amount_received"]) == ("awaiting_payment", 0)


async def test_bad_credentials_are_401_and_bad_bodies_400(cobro: CobroProcesses) -> None:
    body = abono(unregistered_clabe())
    response = await post_abono(cobro.api_url, body, auth=(SIMULATOR_STP_WEBHOOK_USER, "wrong"))
    assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Basic")
    assert_problem(await post_abono(cobro.api_url, body, auth=None), 401)
    assert_problem(await post_abono(cobro.api_url, abono(unregistered_clabe(), 10.255)), 400)
    assert_problem(await post_abono(cobro.api_url, b"{not json"), 400)
    assert_problem(await post_abono(cobro.api_url, {"id": 1}), 400)


async def test_a_deposit_to_an_unknown_clabe_is_held_for_ops(
    cobro: CobroProcesses, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    body = abono(unregistered_clabe())
    response = await post_abono(cobro.api_url, body)
    assert response.status_code == 200 and response.json() == {"mensaje": "confirmar"}
    row = await inbox_row(sessions, f"stp:{body['id']}")
    assert row is not None and row.payment_id is None and row.event_type == "abono"

    # The same through the simulator: the money stays (estado TLQ), kept for ops.
    clabe = unregistered_clabe()
    deposit = (await pay(sim, clabe, 12_345))["abono"]

    async def stored() -> Any:
        return await inbox_row(sessions, f"stp:{deposit['id']}")

    row = await wait_until(stored, "the unmatched deposit to be stored", timeout_s=20)
    assert row.payment_id is None and row.psp_reference == clabe
    assert (await consulta_orden(sim, deposit["claveRastreo"], "R"))["estado"] == "TLQ"


@contextlib.asynccontextmanager
async def _process(
    role: str, env: dict[str, str], ready_url: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cobro.cli",
        role,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        async with httpx.AsyncClient() as client:
            deadline = datetime.now(UTC) + timedelta(seconds=30)
            while datetime.now(UTC) < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(ready_url)).status_code == 200:
                        break
                await asyncio.sleep(0.1)
            else:
                pytest.fail(f"cobro {role} did not start")
        yield process
    finally:
        process.terminate()
        await process.wait()


async def test_a_source_outside_the_allowlist_is_403(cobro: CobroProcesses) -> None:
    port = free_port()
    env = {**cobro.env, "COBRO_API_PORT": str(port), "STP_ALLOWED_IPS": "10.9.9.9"}
    url = f"http://127.0.0.1:{port}"
    async with _process("api", env, f"{url}/healthz"):
        response = await post_abono(url, abono(unregistered_clabe()))
    assert_problem(response, 403)


async def test_behind_a_load_balancer_the_allowlist_sees_the_callers_address(
    cobro: CobroProcesses,
) -> None:
    """The API believes X-Forwarded-For from COBRO_TRUSTED_PROXIES only (here the test itself,
    on 127.0.0.1, plays the balancer): STP's address passes, another is 403; from an untrusted
    proxy the header is ignored, so claiming STP's address gets nowhere."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**cobro.env, "COBRO_API_PORT": str(port), "STP_ALLOWED_IPS": "10.9.9.9"}
    async with _process("api", env | {"COBRO_TRUSTED_PROXIES": "127.0.0.1"}, f"{url}/healthz"):
        from_stp = await post_abono(url, abono(unregistered_clabe()), forwarded_for="10.9.9.9")
        other = await post_abono(url, abono(unregistered_clabe()), forwarded_for="198.51.100.7")
    assert from_stp.status_code == 200, from_stp.text
    assert_problem(other, 403)
    async with _process("api", env | {"COBRO_TRUSTED_PROXIES": "192.0.2.1"}, f"{url}/healthz"):
        spoofed = await post_abono(url, abono(unregistered_clabe()), forwarded_for="10.9.9.9")
    assert_problem(spoofed, 403)


async def test_with_the_return_rule_an_unknown_clabes_deposit_goes_back(
    cobro: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """A second API answering with the "return" rule, and a second simulator sending to it."""
    api_port, sim_port = free_port(), free_port()
    api_url, sim_url = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{sim_port}"
    env = {
        **cobro.env,
        "COBRO_API_PORT": str(api_port),
        "COBRO_SIM_PORT": str(sim_port),
        "COBRO_DATA_DIR": str(cobro.root / "data-stp-return"),
        "STP_UNMATCHED_RULE": "return",
    }
    async with (
        _process("api", env, f"{api_url}/healthz"),
        _process("simulator", env, f"{sim_url}/_sim/charges"),
    ):
        body = abono(unregistered_clabe())
        response = await post_abono(api_url, body)
        assert response.status_code == 200
        assert response.json() == {"mensaje": "devolver", "id": 1}
        row = await inbox_row(sessions, f"stp:{body['id']}")
        assert row is not None and row.payment_id is None
        assert row.event_type == "abono.devuelto"

        async with httpx.AsyncClient(base_url=sim_url, timeout=30) as sim:
            deposit = (await pay(sim, unregistered_clabe(), 5_000))["abono"]

            async def returned() -> Any:
                orden = await consulta_orden(sim, deposit["claveRastreo"], "R")
                return orden if orden["estado"] == "D" else None

            orden = await wait_until(returned, "STP to return the deposit", timeout_s=20)
    assert orden["causaDevolucion"] == 1


async def test_a_clabe_taken_by_another_payment_moves_to_the_next_candidate(
    cobro: CobroProcesses,
) -> None:
    """The adapter against the simulator's STP API: derived CLABEs are unique per payment."""
    payment = PaymentInput(
        payment_id=f"pay_{secrets.token_hex(12)}",
        merchant_id="mer_test",
        amount=25_000,
        currency="MXN",
        method=PaymentMethod.SPEI,
        psps=["stp"],
        customer=Customer(name="Ana"),
        expires_in=3600,
    )
    expires_at = datetime.now(UTC) + timedelta(hours=1)
    async with httpx.AsyncClient(timeout=10) as http:
        client = StpClient(
            f"{cobro.sim_url}/stp",
            f"{cobro.sim_url}/stp",
            SIMULATOR_STP_EMPRESA,
            http,
            signer=dev_signer(),
        )
        first = mapping.clabe_for(SIMULATOR_STP_CLABE_PREFIX, payment.payment_id)
        await client.register_clabe(first, 1234567, 10.0, "Otro", 0, "cobro-payment-pay_other")
        adapter = StpAdapter(client, SIMULATOR_STP_CLABE_PREFIX, "Cobro")
        created = await adapter.create_charge(payment, expires_at)
        again = await adapter.create_charge(payment, expires_at)  # a retried activity
    second = mapping.clabe_for(SIMULATOR_STP_CLABE_PREFIX, payment.payment_id, 1)
    assert created.psp_reference == again.psp_reference == second != first
    async with httpx.AsyncClient(base_url=cobro.sim_url) as sim:
        ledger = await charge(sim, second)
    assert ledger["idempotency_key"] == f"cobro-payment-{payment.payment_id}"
    assert ledger["create_calls"] == 2


async def test_ops_attach_a_deposit_sent_to_a_mistyped_clabe(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    temporal_client: Client,
) -> None:
    payment = (await create(api, STP_BODY)).json()
    # The customer mistypes the CLABE: STP keeps the money, cobro keeps the deposit for ops.
    deposit = (await pay(sim, unregistered_clabe(), payment["amount"]))["abono"]
    event_id = f"stp:{deposit['id']}"

    async def stored() -> Any:
        return await inbox_row(sessions, event_id)

    await wait_until(stored, "the unmatched deposit to be stored", timeout_s=20)

    handle = temporal_client.get_workflow_handle(workflow_id(payment["id"]))
    ops = OpsAttachDeposit(
        operator="lucia@ops", reason="receipt from the customer", event_id=event_id
    )
    received = await handle.execute_update(PaymentWorkflow.ops_attach_deposit, ops)
    assert received == payment["amount"]
    await wait_for_status(api, payment["id"], "succeeded", timeout_s=20)
    last = (await events(api, payment["id"]))[-1]
    assert (last["to_status"], last["source"]) == ("succeeded", "ops")
    assert deposit["claveRastreo"] in last["detail"] and "lucia@ops" in last["detail"]
    row = await inbox_row(sessions, event_id)
    assert row is not None and row.payment_id == payment["id"]

    # The same deposit cannot be credited twice, to this payment or another.
    other = (await create(api, STP_BODY)).json()
    other_handle = temporal_client.get_workflow_handle(workflow_id(other["id"]))
    with pytest.raises(WorkflowUpdateFailedError) as taken:
        await other_handle.execute_update(PaymentWorkflow.ops_attach_deposit, ops)
    assert f"already belongs to {payment['id']}" in str(taken.value.cause)
    unknown = ops.model_copy(update={"event_id": "stp:404"})
    with pytest.raises(WorkflowUpdateFailedError) as missing:
        await other_handle.execute_update(PaymentWorkflow.ops_attach_deposit, unknown)
    assert "cobro ops unmatched" in str(missing.value.cause)
    assert (await api.get(f"/v1/payments/{other['id']}")).json()["amount_received"] == 0
