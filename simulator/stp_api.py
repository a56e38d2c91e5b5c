"""The subset of STP's SPEI services cobro's STP adapter uses, served under /stp.

JSON in and out, amounts in decimal pesos. As STP (shapes from the public stpmex-python client
and third-party integrations; notes/psp-wire.md §3):

- `PUT /stp/ordenPago/registra` (registraOrden): an outbound transfer; `{"resultado": {"id"}}`,
  or `{"resultado": {"id": <negative>, "descripcionError"}}` (id -1: claveRastreo already used).
  Transfers settle at once here (estado "LQ"), unless POST /_sim/refunds/plan holds them
  ("E", enviada, until POST /_sim/refunds/{claveRastreo} ends them LQ, D or CN) or has
  registraOrden refuse them.
- `POST /stp/efws/API/consultaOrden` `{empresa, claveRastreo, tipoOrden: "R"|"E"}`: one received
  or sent order, `{"estado": 0, "mensaje", "respuesta": {...}}`; HTTP 400 with estado 6 when none.
- `POST /stp/efws/API/V2/conciliacion` `{empresa, tipoOrden, fechaOperacion, page}`: the
  orders of an operating day, 100 per page, `{"estado": 0, "mensaje", "total", "datos": [...]}`;
  the report cobro reconciles STP against (simulator/stp_report.py; changes injected with
  `POST /_sim/stp/report` show here, and so in what cobro reads of a CLABE's deposits).
- Deposit notifications ("abonos", SendAbono fields) to `$COBRO_WEBHOOK_BASE_URL/webhooks/stp`
  with HTTP Basic auth (STP_WEBHOOK_USER/PASSWORD), retried until cobro answers 2xx; an answer
  `{"mensaje": "devolver", "id": n}` returns the deposit to the payer (estado "D").

Simulated, not STP's: `POST /stp/cuentas` registers the CLABE cobro issued for a payment, with
its expected amount (idempotent per CLABE; 409 when it belongs to another payment), so
`/_sim/charges` can show each CLABE as a charge; conciliation answers for every operating day
when `fechaOperacion` is left out, and takes a `cuentaBeneficiario` filter; `/cuentas` checks
no `firma` (STP's real account registration signs `||empresa|cuenta|rfcCurp||`).

Every request's `firma` is verified as STP does, with the public half of cobro's development
key (cobro/psp/stp/config.py): registraOrden refuses a bad or missing one with
`{"resultado": {"id": 0, "descripcionError": "Error validando la firma"}}` (the answer stpmex
reads as SignatureValidationError); the efws queries with HTTP 400 `{"estado": 2, "mensaje":
"Error validando la firma"}` (the code is not confirmed). Sent orders' state changes are
posted to cobro as STP's cambioEstado callback (simulator/stp_cambio_estado.py).
"""

import base64
import json
import secrets
import string
import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from clabe import compute_control_digit, validate_clabe
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from cobro.domain import money
from cobro.psp.stp import config, firma, mapping
from simulator import stp_cambio_estado
from simulator.ledger import Charge
from simulator.report_changes import served
from simulator.state import SimState
from simulator.stp_report import LINES, fecha_operacion, received_view, sent_view

router = APIRouter(prefix="/stp")

MEXICO_CITY = ZoneInfo("America/Mexico_City")
PAGE_SIZE = 100
OK = "Datos consultados correctamente"
CLAVE_RASTREO_IN_USE = -1  # registraOrden: the claveRastreo was already used
NONE_FOUND = {"estado": 6, "mensaje": "No se encontraron datos relacionados"}
# Banks payers send from in the simulation: CLABE bank code -> SPEI participant code.
PAYER_BANKS = {"012": 40012, "002": 40002, "014": 40014, "072": 40072, "021": 40021}
PAYER_NAMES = ["Ana López", "Juan Pérez", "María Hernández", "Luis García", "Sofía Martínez"]


class StpError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body


def error_response(exc: StpError) -> JSONResponse:
    return JSONResponse(exc.body, status_code=exc.status)


def _resultado_error(id_: int, message: str, status: int = 200) -> StpError:
    # registraOrden reports refusals inside a 200 answer, as STP does.
    return StpError(status, {"resultado": {"id": id_, "descripcionError": message}})


async def _start(request: Request) -> tuple[SimState, dict[str, Any]]:
    state: SimState = request.app.state.sim
    if not state.rate_limits.allow("stp"):
        raise _resultado_error(0, "Demasiadas solicitudes", 429)
    if await state.chaos.before_api_call("stp"):
        raise _resultado_error(0, "No se recibió respuesta del servicio", 503)
    try:
        body = money.loads(await request.body())
    except ValueError:
        raise _resultado_error(-20, "Cuerpo inválido", 400) from None
    if not isinstance(body, dict) or body.get("empresa") != state.settings.stp_empresa:
        raise _resultado_error(-20, "Empresa inválida", 400)
    return state, body


FIRMA_INVALIDA = "Error validando la firma"  # STP's words (stpmex: SignatureValidationError)


def _firma_ok(body: dict[str, Any], cadena: str) -> bool:
    """STP checks every request's firma with the certificate the company registered; the
    simulator knows the public half of cobro's development key."""
    return firma.verify(config.SIMULATOR_STP_PUBLIC_KEY, cadena, body.get("firma"))


def _efws_firma(body: dict[str, Any], cadena: str) -> None:
    # The efws queries answer with estado/mensaje; STP's code for a bad firma there is not
    # confirmed: 2 is what stpmex reads as a refused request (BadRequestError).
    if not _firma_ok(body, cadena):
        raise StpError(400, {"estado": 2, "mensaje": FIRMA_INVALIDA})


def _lost(state: SimState) -> None:
    if state.chaos.lose_response("stp"):
        raise _resultado_error(0, "No se recibió respuesta del servicio", 503)


def _ours(state: SimState, clabe: str) -> bool:
    """A valid CLABE under the company's prefix at STP."""
    prefix = f"{mapping.STP_BANK_CODE}{mapping.STP_PLAZA}{state.settings.stp_clabe_prefix}"
    return len(clabe) == 18 and clabe.startswith(prefix) and bool(validate_clabe(clabe))


def _refresh_status(charge: Charge) -> None:
    if charge.amount_paid >= charge.amount:
        charge.status = "paid"
    elif charge.amount_paid > 0:
        charge.status = "partially_paid"
    else:
        charge.status = "registered"


@router.post("/cuentas")
async def register_clabe(request: Request) -> JSONResponse:
    state, body = await _start(request)
    clabe = str(body.get("cuenta", ""))
    key = request.headers.get("idempotency-key")
    if not _ours(state, clabe):
        raise _resultado_error(-11, f"Cuenta {clabe!r} inválida para la empresa", 400)
    existing = state.ledger.charges.get(clabe)
    if existing is not None:
        if existing.psp != "stp" or existing.idempotency_key != key:
            raise _resultado_error(-1, "La cuenta ya está registrada para otro cliente", 409)
        existing.create_calls += 1
        state.ledger.save()
        _lost(state)
        return JSONResponse({"resultado": {"id": existing.object["id"], "cuenta": clabe}})
    try:
        amount = mapping.monto_to_centavos(body.get("monto"))
    except ValueError as exc:
        raise _resultado_error(-20, str(exc), 400) from None
    registration = {
        "id": len(state.ledger.charges) + 1,
        "cuenta": clabe,
        "empresa": body["empresa"],
        "nombre": str(body.get("nombre") or "ND"),
        "referenciaNumerica": body.get("referenciaNumerica"),
        "fechaExpiracion": body.get("fechaExpiracion"),
        "monto": mapping.centavos_to_monto(amount),
    }
    charge = Charge(
        id=clabe,
        psp="stp",
        idempotency_key=key,
        request_hash=json.dumps(body, sort_keys=True, default=str),
        amount=amount,
        method="spei",
        status="registered",
        object=registration,
    )
    # Deposits that reached the CLABE before it was registered still count for it.
    charge.amount_paid = sum(
        a["centavos"]
        for a in state.ledger.stp_abonos
        if a["cuentaBeneficiario"] == clabe and a["estado"] == "TLQ"
    )
    _refresh_status(charge)
    state.ledger.charges[clabe] = charge
    state.ledger.save()
    _lost(state)
    return JSONResponse({"resultado": {"id": registration["id"], "cuenta": clabe}})


@router.post("/efws/API/consultaOrden")
async def consulta_orden(request: Request) -> JSONResponse:
    state, body = await _start(request)
    _efws_firma(body, firma.cadena_consulta_orden(body))
    clave = body.get("claveRastreo")
    if body.get("tipoOrden") == "E":
        orden = state.ledger.stp_ordenes.get(str(clave))
        found = sent_view(orden) if orden else None
    else:
        abono = next((a for a in state.ledger.stp_abonos if a["claveRastreo"] == clave), None)
        found = received_view(abono) if abono else None
    if found is None:
        return JSONResponse(NONE_FOUND, status_code=400)
    return JSONResponse({"estado": 0, "mensaje": OK, "respuesta": found})


@router.post("/efws/API/V2/conciliacion")
async def conciliacion(request: Request) -> JSONResponse:
    state, body = await _start(request)
    _efws_firma(body, firma.cadena_conciliacion(body))
    # Sent orders are cobro's refunds; received ones the deposits (with any injected changes).
    line_type = "refund" if body.get("tipoOrden") == "E" else "charge"
    orders = served(state, "stp", line_type, LINES[line_type])
    if (fecha := body.get("fechaOperacion")) is not None:
        orders = [o for o in orders if str(o.get("fechaOperacion")) == str(fecha)]
    if (cuenta := body.get("cuentaBeneficiario")) is not None:
        orders = [o for o in orders if o.get("cuentaBeneficiario") == cuenta]
    page = int(body.get("page") or 0)
    datos = orders[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    return JSONResponse({"estado": 0, "mensaje": OK, "total": len(orders), "datos": datos})


@router.put("/ordenPago/registra")
async def registra_orden(request: Request) -> JSONResponse:
    state, body = await _start(request)
    if not _firma_ok(body, firma.cadena_orden(body)):
        raise _resultado_error(0, FIRMA_INVALIDA)  # in a 200 answer, as STP does
    clave = str(body.get("claveRastreo") or "")
    if not clave or len(clave) > 30 or not clave.isalnum():
        raise _resultado_error(-9, "Clave de rastreo inválida")
    if clave in state.ledger.stp_ordenes:
        raise _resultado_error(CLAVE_RASTREO_IN_USE, "La clave de rastreo ya fue utilizada")
    try:
        amount = mapping.monto_to_centavos(body.get("monto"))
    except ValueError as exc:
        raise _resultado_error(-20, f"Monto inválido: {exc}") from None
    beneficiario = str(body.get("cuentaBeneficiario") or "")
    if body.get("tipoCuentaBeneficiario") != mapping.TIPO_CUENTA_CLABE or not validate_clabe(
        beneficiario
    ):
        raise _resultado_error(-11, "El tipo de cuenta o la cuenta del beneficiario es inválida")
    charge = state.ledger.charges.get(str(body.get("cuentaOrdenante") or ""))
    if charge is None or charge.psp != "stp":
        raise _resultado_error(-7, "Cuenta ordenante inválida")
    if amount > charge.amount_paid - charge.amount_refunded:
        raise _resultado_error(-3, "Saldo insuficiente")
    outcome = state.next_refund_outcome(charge.id)  # POST /_sim/refunds/plan
    if outcome == "rejected":
        raise _resultado_error(-3, "Saldo insuficiente")
    orden_id = len(state.ledger.stp_ordenes) + 1
    request_fields = {k: v for k, v in body.items() if k != "firma"}
    now = datetime.now(MEXICO_CITY)
    orden: dict[str, Any] = {
        "id": orden_id,
        "estado": "E" if outcome == "pending" else "LQ",  # enviada: not settled yet
        "centavos": amount,
        "request": {**request_fields, "monto": mapping.centavos_to_monto(amount)},
        "fechaOperacion": fecha_operacion(now),
        "causaDevolucion": None,
    }
    if orden["estado"] == "LQ":
        orden["tsLiquidacion"] = int(now.timestamp() * 1000)
    state.ledger.stp_ordenes[clave] = orden
    charge.amount_refunded += amount
    state.ledger.save()
    if orden["estado"] == "LQ":
        stp_cambio_estado.notify(state, orden)
    _lost(state)
    return JSONResponse({"resultado": {"id": orden_id}})


# ---- money in: the customer's transfer and its notification ---------------------------------


def _payer_clabe() -> tuple[str, int]:
    bank = secrets.choice(sorted(PAYER_BANKS))
    first17 = bank + "180" + "".join(secrets.choice(string.digits) for _ in range(11))
    return first17 + str(compute_control_digit(first17)), PAYER_BANKS[bank]


def _next_id(state: SimState) -> int:
    # Unique across resets and restarts (cobro keys events on it): milliseconds + a counter.
    return int(time.time() * 1000) * 1000 + len(state.ledger.stp_abonos) % 1000


def apply_payment(state: SimState, clabe: str, amount: int) -> dict[str, Any]:
    """A customer's SPEI transfer of `amount` centavos to `clabe`: STP settles it at once and
    notifies cobro; every transfer is its own abono, whatever its amount."""
    charge = state.ledger.charges.get(clabe)
    registration = charge.object if charge is not None and charge.psp == "stp" else {}
    payer, institution = _payer_clabe()
    now = datetime.now(MEXICO_CITY)
    abono = {
        "id": _next_id(state),
        "claveRastreo": f"SIM{now:%Y%m%d}{secrets.randbelow(10**12):012d}",
        "cuentaBeneficiario": clabe,
        "cuentaOrdenante": payer,
        "institucionOrdenante": institution,
        "nombreOrdenante": secrets.choice(PAYER_NAMES),
        "rfcCurpOrdenante": "ND",
        "nombreBeneficiario": registration.get("nombre", "ND"),
        "conceptoPago": "Pago",
        "referenciaNumerica": registration.get("referenciaNumerica")
        or secrets.randbelow(9_000_000) + 1_000_000,
        "centavos": amount,
        "empresa": state.settings.stp_empresa,
        "fechaOperacion": fecha_operacion(now),
        "tsLiquidacion": int(now.timestamp() * 1000),
        "estado": "TLQ",
        "causaDevolucion": None,
    }
    state.ledger.stp_abonos.append(abono)
    if charge is not None and charge.psp == "stp":
        charge.amount_paid += amount
        _refresh_status(charge)
    state.ledger.save()
    _notify(state, abono)
    return abono


def _notification(abono: dict[str, Any]) -> dict[str, Any]:
    """The abono as STP posts it (SendAbono field names; monto in pesos)."""
    return {
        "id": abono["id"],
        "fechaOperacion": abono["fechaOperacion"],
        "institucionOrdenante": abono["institucionOrdenante"],
        "institucionBeneficiaria": mapping.STP_INSTITUTION,
        "claveRastreo": abono["claveRastreo"],
        "monto": mapping.centavos_to_monto(abono["centavos"]),
        "nombreOrdenante": abono["nombreOrdenante"],
        "tipoCuentaOrdenante": mapping.TIPO_CUENTA_CLABE,
        "cuentaOrdenante": abono["cuentaOrdenante"],
        "rfcCurpOrdenante": abono["rfcCurpOrdenante"],
        "nombreBeneficiario": abono["nombreBeneficiario"],
        "tipoCuentaBeneficiario": mapping.TIPO_CUENTA_CLABE,
        "cuentaBeneficiario": abono["cuentaBeneficiario"],
        "conceptoPago": abono["conceptoPago"],
        "referenciaNumerica": abono["referenciaNumerica"],
        "empresa": abono["empresa"],
        "tipoPago": 1,
        "tsLiquidacion": str(abono["tsLiquidacion"]),
        "folioCodi": None,
    }


def _notify(state: SimState, abono: dict[str, Any]) -> None:
    settings = state.settings
    credentials = f"{settings.stp_webhook_user}:{settings.stp_webhook_password.get_secret_value()}"
    auth = {"Authorization": "Basic " + base64.b64encode(credentials.encode()).decode()}
    body = json.dumps(_notification(abono)).encode()

    def on_answer(response: httpx.Response) -> None:
        try:
            answer = response.json()
        except ValueError:
            return
        if isinstance(answer, dict) and answer.get("mensaje") == "devolver":
            _return_to_payer(state, abono["claveRastreo"], answer.get("id"))

    state.deliver("stp", body, lambda _body: auth, on_delivered=on_answer)


def _return_to_payer(state: SimState, clave_rastreo: str, cause: object) -> None:
    """cobro answered "devolver": STP sends the deposit back (a devolución), once."""
    for abono in state.ledger.stp_abonos:
        if abono["claveRastreo"] == clave_rastreo and abono["estado"] == "TLQ":
            abono["estado"], abono["causaDevolucion"] = "D", cause
            charge = state.ledger.charges.get(abono["cuentaBeneficiario"])
            if charge is not None and charge.psp == "stp":
                charge.amount_paid -= abono["centavos"]
                _refresh_status(charge)
            state.ledger.save()


def is_stp_clabe(state: SimState, reference: str) -> bool:
    """A CLABE under the company's STP prefix (registered or not): money can be sent to it."""
    return _ours(state, reference)
