"""Sent orders (cobro's refunds) changing state at STP, and STP's "cambioEstado" callback.

When an outbound order settles (LQ), is returned by the receiving bank (D, devuelta) or is
cancelled (CN), STP POSTs `{"id", "empresa", "folioOrigen", "estado", "causaDevolucion",
"tsLiquidacion"}` to the company's URL (notes/psp-wire.md §3), here cobro's
`/webhooks/stp/cambioEstado`, with the same Basic credentials as deposit notifications, retried
until cobro answers 2xx (`{"mensaje": "recibido"}`). `estado` carries the order's estado code.
"""

import base64
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cobro.psp.stp import mapping
from simulator.state import SimState

MEXICO_CITY = ZoneInfo("America/Mexico_City")
# Where an order still on its way ends: liquidada, devuelta or cancelada.
ORDEN_FINAL = frozenset({"LQ", "D", "CN"})


def callback(orden: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": orden["id"],
        "empresa": orden["request"].get("empresa"),
        "folioOrigen": orden["request"].get("folioOrigen"),
        "estado": orden["estado"],
        "causaDevolucion": orden.get("causaDevolucion"),
        "tsLiquidacion": str(orden["tsLiquidacion"]) if orden.get("tsLiquidacion") else None,
    }


def notify(state: SimState, orden: dict[str, Any]) -> None:
    settings = state.settings
    credentials = f"{settings.stp_webhook_user}:{settings.stp_webhook_password.get_secret_value()}"
    auth = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
    body = json.dumps(callback(orden)).encode()
    state.deliver("stp", body, lambda _body: auth, path="stp/cambioEstado")


def settle_orden(
    state: SimState, clave_rastreo: str, estado: str, causa: int | None
) -> dict[str, Any]:
    """An outbound order registered as "E" (enviada) ends; money that did not arrive returns to
    the CLABE it left from, and cobro is told. Raises ValueError for a move STP would not make."""
    orden = state.ledger.stp_ordenes.get(clave_rastreo)
    if orden is None:
        raise ValueError(f"no sent order {clave_rastreo!r}")
    if orden["estado"] != "E":
        raise ValueError(f"order {clave_rastreo} is already {orden['estado']}")
    if estado not in ORDEN_FINAL:
        raise ValueError(f"estado must be one of {sorted(ORDEN_FINAL)}, not {estado!r}")
    orden["estado"] = estado
    if estado == "LQ":
        orden["tsLiquidacion"] = int(datetime.now(MEXICO_CITY).timestamp() * 1000)
    else:
        charge = state.ledger.charges[str(orden["request"]["cuentaOrdenante"])]
        charge.amount_refunded -= orden["centavos"]
        if estado == "D":  # cause codes are not confirmed; 1 reads "cuenta inexistente"
            orden["causaDevolucion"] = causa or mapping.DEVOLUCION_CUENTA_INEXISTENTE
    state.ledger.save()
    notify(state, orden)
    return orden
