"""STP's cambioEstado callback for refunds, end to end: the simulator (playing STP) posts it when a
refund's outbound transfer changes state; cobro stores it in the inbox, asks STP's consultaOrden,
and the refund ends as STP reports: liquidada -> succeeded, devuelta -> failed with its amount
refundable again. A repeated callback changes nothing; one for an order cobro never made is kept
for ops; and STP (the simulator) refuses requests whose firma is not cobro's key's."""

import asyncio
import json
import secrets
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import WebhookInbox
from cobro.psp.stp import firma
from cobro.psp.stp.adapter import clave_rastreo_for
from cobro.psp.stp.client import FirmaRejected, StpClient
from cobro.psp.stp.config import SIMULATOR_STP_EMPRESA
from tests.e2e.helpers import charge, create, events, run_cli, wait_for_status, wait_until
from tests.e2e.test_refunds import _move, _plan, _refund, _refund_ends
from tests.e2e.test_stp import AUTH, STP_BODY, _basic, consulta_orden, pay
from tests.stack import CobroProcesses


async def _callbacks(
    sessions: async_sessionmaker[AsyncSession], refund_id: str
) -> list[WebhookInbox]:
    async with sessions() as session:
        rows = await session.scalars(
            select(WebhookInbox).where(
                WebhookInbox.psp == "stp",
                WebhookInbox.event_type == "cambioEstado",
                WebhookInbox.psp_reference == refund_id,
            )
        )
        return list(rows)


async def _post(url: str, body: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Authorization": _basic(*AUTH)}
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return await client.post("/webhooks/stp/cambioEstado", content=body, headers=headers)


async def _held_refund(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, key: str
) -> tuple[dict[str, Any], dict[str, Any], str]:
    payment = (await create(api, STP_BODY)).json()
    clabe = payment["psp_reference"]
    await pay(sim, clabe)
    await wait_for_status(api, payment["id"], "succeeded")
    await _plan(sim, clabe, "pending")
    refund = (await _refund(api, payment["id"], 25_000, key)).json()
    assert refund["status"] == "pending", refund
    return payment, refund, clave_rastreo_for(refund["id"])


async def test_liquidada_callback_succeeds_the_refund(
    cobro: CobroProcesses,
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    payment, refund, clave = await _held_refund(api, sim, "cambio-lq")
    await _move(sim, clave, "LQ")  # STP liquidates it and posts cambioEstado
    await _refund_ends(api, payment["id"], refund["id"], "succeeded")
    done = await wait_for_status(api, payment["id"], "refunded")
    assert done["amount_refunded"] == 25_000
    last = (await events(api, payment["id"]))[-1]
    # The callback, not cobro's periodic check of STP, ended it.
    assert (last["to_status"], last["source"]) == ("refunded", "psp_webhook")
    (row,) = await _callbacks(sessions, refund["id"])
    assert row.forwarded_at is not None
    stored = json.loads(row.raw_body)
    assert (stored["folioOrigen"], stored["estado"]) == (refund["id"], "LQ")
    assert row.event is not None and row.event["refund"]["status"] == "succeeded"

    # STP repeats the callback: stored once, answered the same, nothing changes.
    before = await events(api, payment["id"])
    again = await _post(cobro.api_url, row.raw_body)
    assert (again.status_code, again.json()) == (200, {"mensaje": "recibido"})
    assert len(await _callbacks(sessions, refund["id"])) == 1
    await asyncio.sleep(1)  # time for a wrongly forwarded copy to show
    assert await events(api, payment["id"]) == before
    assert (await api.get(f"/v1/payments/{payment['id']}")).json()["amount_refunded"] == 25_000


async def test_devuelta_callback_fails_the_refund_and_frees_its_amount(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    payment, refund, clave = await _held_refund(api, sim, "cambio-d")
    blocked = await _refund(api, payment["id"], 1, "cambio-d-blocked")
    assert blocked.status_code == 422  # the whole amount is on its way
    await _move(sim, clave, "D", causa_devolucion=1)
    failed = await _refund_ends(api, payment["id"], refund["id"], "failed")
    assert "estado D" in failed["failure_reason"]

    async def forwarded() -> WebhookInbox | None:
        rows = await _callbacks(sessions, refund["id"])
        return rows[0] if rows and rows[0].forwarded_at is not None else None

    row = await wait_until(forwarded, "the devuelta callback forwarded")
    assert row.event is not None and row.event["refund"]["status"] == "failed"
    assert (await charge(sim, payment["psp_reference"]))["amount_refunded"] == 0
    # The money came back: the whole amount can be refunded again, and is.
    again = (await _refund(api, payment["id"], 25_000, "cambio-d-again")).json()
    assert again["status"] == "succeeded", again
    assert (await consulta_orden(sim, clave_rastreo_for(again["id"]), "E"))["estado"] == "LQ"


async def test_a_callback_for_an_unknown_order_is_kept_for_ops(
    cobro: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    folio = f"re_nobody_{secrets.token_hex(4)}"
    body = json.dumps(
        {
            "id": secrets.randbelow(10**9),
            "empresa": SIMULATOR_STP_EMPRESA,
            "folioOrigen": folio,
            "estado": "D",
            "causaDevolucion": 1,
            "tsLiquidacion": None,
        }
    ).encode()
    response = await _post(cobro.api_url, body)
    assert (response.status_code, response.json()) == (200, {"mensaje": "recibido"})
    (row,) = await _callbacks(sessions, folio)
    assert row.payment_id is None and row.raw_body == body  # byte-exact, for ops
    listed = [json.loads(line) for line in await run_cli(cobro.env, "ops", "unmatched")]
    assert {
        "psp": "stp",
        "type": "cambioEstado",
        "psp_reference": folio,
        "amount": None,
    }.items() <= next(x for x in listed if x["event_id"] == row.event_id).items()
    bad = await _post(cobro.api_url, b'{"id": 1, "folioOrigen": "x"}')
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"


async def test_stp_refuses_a_bad_firma_and_cobro_says_why(cobro: CobroProcesses) -> None:
    orden = {"claveRastreo": "BADFIRMA1", "monto": 10.0, "empresa": SIMULATOR_STP_EMPRESA}
    async with httpx.AsyncClient(base_url=cobro.sim_url) as sim:
        unsigned = await sim.put("/stp/ordenPago/registra", json=orden)
        forged = await sim.put("/stp/ordenPago/registra", json={**orden, "firma": "AAAA"})
        query = {"empresa": SIMULATOR_STP_EMPRESA, "claveRastreo": "X1", "tipoOrden": "E"}
        unsigned_query = await sim.post("/stp/efws/API/consultaOrden", json=query)
    refused = {"resultado": {"id": 0, "descripcionError": "Error validando la firma"}}
    assert (unsigned.status_code, unsigned.json()) == (200, refused)
    assert (forged.status_code, forged.json()) == (200, refused)
    assert unsigned_query.status_code == 400
    assert unsigned_query.json()["mensaje"] == "Error validando la firma"

    # cobro's client signing with a key STP does not know gets a clear PspRejected.
    other_key = firma.Signer(_other_key_pem(), "")
    async with httpx.AsyncClient(timeout=10) as http:
        client = StpClient(
            f"{cobro.sim_url}/stp",
            f"{cobro.sim_url}/stp",
            SIMULATOR_STP_EMPRESA,
            http,
            signer=other_key,
        )
        for call in (
            client.registra_orden(orden),
            client.consulta_orden("X1", "E"),
            client.conciliacion("R", 20261202),
        ):
            try:
                await call
            except FirmaRejected as exc:
                assert "refused cobro's firma: Error validando la firma" in str(exc)
            else:
                raise AssertionError("STP accepted a firma made with another key")


def _other_key_pem() -> bytes:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
