"""STP's order views, and its conciliation as the report cobro reconciles STP against.

STP's order queries (`consultaOrden`, and `conciliacion` for the orders of an operating day:
`POST /efws/API/V2/conciliacion {empresa, tipoOrden, fechaOperacion, page}` answering
`{"estado": 0, "mensaje", "total", "datos": [...]}`, as the stpmex-python client and
integrations use them) show each order with STP's field names: `claveRastreo`, `monto` in
decimal pesos, `fechaOperacion` (YYYYMMDD), `estado` ("TLQ"/"LQ" settled, "D" returned).
Received orders ("R") are the deposits to the company's CLABEs; sent orders ("E") are its
outbound transfers, such as refunds.
"""

import secrets
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cobro.psp.stp import mapping, operating_day
from simulator.report_changes import Line, Lines
from simulator.state import SimState

MEXICO_CITY = ZoneInfo("America/Mexico_City")


def fecha_operacion(moment: datetime) -> int:
    """STP's operating day of an instant: after the 18:00 cut-off, or on a weekend or bank
    holiday, the next business day (cobro/psp/stp/operating_day.py)."""
    return operating_day.fecha_operacion(moment)


def received_view(abono: dict[str, Any]) -> Line:
    """A received order as STP's order queries show it (institucionOperante: the sender's)."""
    return {
        "idEF": abono["id"],
        "claveRastreo": abono["claveRastreo"],
        "conceptoPago": abono["conceptoPago"],
        "cuentaBeneficiario": abono["cuentaBeneficiario"],
        "cuentaOrdenante": abono["cuentaOrdenante"],
        "empresa": abono["empresa"],
        "estado": abono["estado"],
        "fechaOperacion": abono["fechaOperacion"],
        "institucionContraparte": mapping.STP_INSTITUTION,
        "institucionOperante": abono["institucionOrdenante"],
        "medioEntrega": 3,
        "monto": mapping.centavos_to_monto(abono["centavos"]),
        "nombreBeneficiario": abono["nombreBeneficiario"],
        "nombreOrdenante": abono["nombreOrdenante"],
        "referenciaNumerica": abono["referenciaNumerica"],
        "rfcCurpBeneficiario": "ND",
        "rfcCurpOrdenante": abono["rfcCurpOrdenante"],
        "tipoCuentaBeneficiario": mapping.TIPO_CUENTA_CLABE,
        "tipoCuentaOrdenante": mapping.TIPO_CUENTA_CLABE,
        "tipoPago": 1,
        "tsCaptura": abono["tsLiquidacion"],
        "tsLiquidacion": abono["tsLiquidacion"],
        "causaDevolucion": abono["causaDevolucion"],
    }


def sent_view(orden: dict[str, Any]) -> Line:
    """A sent order: what cobro registered, with STP's id, state and operating day (orders
    registered before the simulator kept the day have none)."""
    extra = {
        k: orden[k] for k in ("fechaOperacion", "tsLiquidacion", "causaDevolucion") if k in orden
    }
    return {**orden["request"], "idEF": orden["id"], "estado": orden["estado"], **extra}


def _set_monto(line: Line, centavos: int) -> None:
    line["monto"] = mapping.centavos_to_monto(centavos)


def _clave() -> str:
    return f"SIMX{secrets.randbelow(10**20):020d}"


def _forge_received(state: SimState, clabe: str, centavos: int) -> Line:
    now = datetime.now(MEXICO_CITY)
    abono = {
        "id": int(time.time() * 1000) * 1000 + secrets.randbelow(1000),
        "claveRastreo": _clave(),
        "conceptoPago": "Pago",
        "cuentaBeneficiario": clabe,
        "cuentaOrdenante": "012180015555555557",
        "empresa": state.settings.stp_empresa,
        "estado": "TLQ",
        "fechaOperacion": fecha_operacion(now),
        "institucionOrdenante": 40012,
        "nombreBeneficiario": "ND",
        "nombreOrdenante": "ND",
        "referenciaNumerica": 1_000_000,
        "rfcCurpOrdenante": "ND",
        "centavos": centavos,
        "tsLiquidacion": int(now.timestamp() * 1000),
        "causaDevolucion": None,
    }
    return received_view(abono)


def _forge_sent(state: SimState, clabe: str, centavos: int) -> Line:
    now = datetime.now(MEXICO_CITY)
    request = {
        "claveRastreo": _clave(),
        "cuentaOrdenante": clabe,
        "cuentaBeneficiario": "012180015555555557",
        "empresa": state.settings.stp_empresa,
        "monto": mapping.centavos_to_monto(centavos),
    }
    orden = {"id": secrets.randbelow(10**9), "estado": "LQ", "request": request}
    return sent_view(
        orden
        | {"fechaOperacion": fecha_operacion(now), "tsLiquidacion": int(now.timestamp() * 1000)}
    )


# A deposit line is about the CLABE it went to (the payment's reference at cobro); a sent
# order about the CLABE it left from (cobro refunds from the payment's CLABE).
LINES: dict[str, Lines] = {
    "charge": Lines(
        read=lambda state: [received_view(a) for a in state.ledger.stp_abonos],
        reference=lambda line: str(line.get("cuentaBeneficiario")),
        set_amount=_set_monto,
        forge=_forge_received,
    ),
    "refund": Lines(
        read=lambda state: [sent_view(o) for o in state.ledger.stp_ordenes.values()],
        reference=lambda line: str(line.get("cuentaOrdenante")),
        set_amount=_set_monto,
        forge=_forge_sent,
    ),
}
