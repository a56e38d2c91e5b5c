"""cobro's STP firma is byte-equal to the reference client's (stpmex 3.15.1) for the same key and
the same request: registraOrden (cobro's refunds), consultaOrden and conciliacion.

stpmex cannot be installed next to cobro (pydantic 1, cryptography < 40.1); the vectors in
stpmex_vectors.json were written by stpmex itself from its own virtualenv (tests/stpmex_judge.py
says how to regenerate them). Here cobro builds the same requests on its own, through the real
StpClient, and must send exactly stpmex's firma."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from cobro.domain import money
from cobro.psp.stp import config, firma
from cobro.psp.stp.adapter import refund_orden
from cobro.psp.stp.client import StpClient

VECTORS = json.loads((Path(__file__).parent / "stpmex_vectors.json").read_text())
EMPRESA = VECTORS["empresa"]


def test_vectors_were_written_by_stpmex() -> None:
    assert VECTORS["judge"] == "stpmex 3.15.1"
    assert len(VECTORS["ordenes"]) == 3 and VECTORS["consultas"] and VECTORS["conciliaciones"]


async def _sent(call: Any) -> dict[str, Any]:
    """The JSON body the real client sends to STP for `call(client)` (STP faked by httpx)."""
    seen: list[dict[str, Any]] = []

    def stp(request: httpx.Request) -> httpx.Response:
        seen.append(money.loads(request.content))
        if request.url.path.endswith("/registra"):
            return httpx.Response(200, json={"resultado": {"id": 1}})
        return httpx.Response(200, json={"estado": 0, "mensaje": "ok", "respuesta": {}, "total": 0})

    async with httpx.AsyncClient(transport=httpx.MockTransport(stp)) as http:
        client = StpClient(
            "https://stp.test/speiws/rest",
            "https://stp.test",
            EMPRESA,
            http,
            signer=firma.dev_signer(),
        )
        await call(client)
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("vector", VECTORS["ordenes"], ids=lambda v: v["params"]["refund_id"])
async def test_registra_orden_firma_equals_stpmex(vector: dict[str, Any]) -> None:
    params = vector["params"]
    orden = refund_orden(
        vector["fields"]["claveRastreo"],
        params["refund_id"],
        params["payer"],
        params["clabe"],
        "Cobro Pagos SA de CV",
        params["amount"],
    )
    body = await _sent(lambda client: client.registra_orden(orden))
    assert firma.cadena_orden(body) == vector["cadena"]
    assert body["firma"] == vector["firma"]
    # The same fields stpmex sends (it writes the institution codes as strings).
    stpmex_body = {
        k: int(v) if k.startswith("institucion") else v for k, v in vector["stpmex_body"].items()
    }
    sent = {k: v for k, v in body.items() if k != "firma"}
    assert sent == {k: Decimal(str(v)) if k == "monto" else v for k, v in stpmex_body.items()}


@pytest.mark.parametrize("vector", VECTORS["consultas"], ids=lambda v: str(v["fields"]))
async def test_consulta_orden_firma_equals_stpmex(vector: dict[str, Any]) -> None:
    fields = vector["fields"]
    if "fechaOperacion" in fields:  # cobro never sends one: the cadena alone is compared
        cadena = firma.cadena_consulta_orden(fields)
        assert firma.dev_signer().sign(cadena) == vector["firma"]
        return
    body = await _sent(
        lambda client: client.consulta_orden(fields["claveRastreo"], fields["tipoOrden"])
    )
    assert body["firma"] == vector["firma"]


@pytest.mark.parametrize("vector", VECTORS["conciliaciones"], ids=lambda v: str(v["fields"]))
async def test_conciliacion_firma_equals_stpmex(vector: dict[str, Any]) -> None:
    fields = vector["fields"]
    body = await _sent(
        lambda client: client.conciliacion(fields["tipoOrden"], fields.get("fechaOperacion"))
    )
    assert body["firma"] == vector["firma"]


def test_a_changed_field_changes_the_firma() -> None:
    vector = VECTORS["ordenes"][0]
    other = {**vector["fields"], "monto": 1234.51}
    signed = firma.dev_signer().sign(firma.cadena_orden(other))
    assert signed != vector["firma"]
    public = config.SIMULATOR_STP_PUBLIC_KEY
    assert firma.verify(public, vector["cadena"], vector["firma"])
    assert not firma.verify(public, firma.cadena_orden(other), vector["firma"])
    assert not firma.verify(public, vector["cadena"], None)
    assert not firma.verify(public, vector["cadena"], "not base64!")


def test_a_wrong_passphrase_is_refused_by_name() -> None:
    with pytest.raises(firma.KeyUnusable, match="cannot be loaded"):
        firma.Signer(config.SIMULATOR_STP_PRIVATE_KEY.encode(), "wrong")
