"""STP (a direct SPEI participant) in cobro's terms: the CLABE cobro issues per payment, the
numeric reference, `monto` in pesos <-> integer centavos, and the deposits ("abonos") STP reports.

Facts followed (notes/psp-wire.md §3): a CLABE is 3 digits of bank (646 = STP), 3 of plaza
(180), 11 of account and a check digit (Banxico/ABM weights 3-7-1, computed with the `clabe`
package); under STP the 11 account digits are the company's 4-digit prefix plus 7 digits the
company chooses. `referenciaNumerica` has up to 7 digits. `monto` is decimal pesos, never
centavos; a deposit's `tsLiquidacion` is epoch milliseconds.
"""

import hashlib
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from clabe import compute_control_digit

from cobro.domain import money
from cobro.domain.payment import PspEvent, PspRefundResult, RefundStatus
from cobro.domain.refund_status import refund_status

STP_BANK_CODE = "646"  # STP's bank code inside CLABEs
STP_PLAZA = "180"
STP_INSTITUTION = 90646  # STP's 5-digit SPEI participant code (institucionBeneficiaria)
TIPO_CUENTA_CLABE = 40
# STP answers to a deposit notification: keep it, or return it to the payer ("devolución").
CONFIRMAR: dict[str, object] = {"mensaje": "confirmar"}
# Cause of a devolución for a CLABE that belongs to no payment ("cuenta inexistente"); STP's
# cause-code list is not confirmed (notes/psp-wire.md §3), 1 is what the brief fixes.
DEVOLUCION_CUENTA_INEXISTENTE = 1
# `estado` of a settled order in STP's order queries ("TLQ": liquidada); "D" is devuelta.
SETTLED = frozenset({"TLQ", "LQ"})
# `estado` of a SENT order (a refund is an outbound registraOrden), for every estado in STP's list
# (stpmex.zendesk.com/hc/es/articles/360040200791, as the stpmex-python client's `Estado` copies
# it), read with consultaOrden tipoOrden "E". Only liquidada is money that left; cancelada,
# devuelta (the receiving bank sent it back), rechazada, retornada and eliminada are money that
# stayed or came back, so the refund failed and its amount is free again. Every estado on the
# way, and those whose meaning for a sent order STP does not document (the confirmation and
# export states of received orders), keep the refund pending: the amount stays reserved and ops
# see it, which is safe either way; an estado not in this list raises (never guessed).
ORDEN_ENVIADA_ESTADOS: dict[str, RefundStatus] = {
    "C": "pending",  # capturada
    "PL": "pending",  # pendiente de liberar
    "L": "pending",  # liberada
    "PA": "pending",  # pendiente de autorizar
    "A": "pending",  # autorizada
    "E": "pending",  # enviada
    "LQ": "succeeded",  # liquidada
    "CN": "failed",  # cancelada
    "TL": "pending",  # traspaso liberado
    "TC": "pending",  # traspaso capturado
    "TA": "pending",  # traspaso autorizado
    "TLQ": "succeeded",  # traspaso liquidado
    "TCL": "failed",  # traspaso cancelado
    "R": "pending",  # recibida (a received order's estado)
    "XD": "pending",  # por devolver
    "D": "failed",  # devuelta
    "CXO": "pending",  # por enviar confirmación
    "CCE": "pending",  # confirmación enviada
    "CCO": "pending",  # confirmada
    "CCR": "pending",  # confirmación rechazada
    "XC": "pending",  # por cancelar
    "CL": "failed",  # cancelada local
    "CR": "pending",  # cancelación rechazada: the order goes on
    "RL": "failed",  # rechazada local
    "CA": "failed",  # cancelada adapter
    "RA": "failed",  # rechazada adapter
    "EA": "pending",  # enviada adapter
    "RB": "failed",  # rechazada Banxico
    "EL": "failed",  # eliminada
    "XR": "pending",  # por retornar
    "RE": "failed",  # retornada
    "EP": "pending",  # exportación POA
    "EC": "pending",  # exportación CEP
}
MAX_CENTAVOS = 10**14  # a trillion pesos: far above any SPEI transfer


def clabe_for(prefix: str, payment_id: str, attempt: int = 0) -> str:
    """The CLABE cobro issues for a payment: 646 + 180 + prefix + 7 digits derived from the
    payment id + check digit. Deterministic, so a retried create gives the same CLABE; with only
    10^7 numbers per prefix two payments can collide, so `attempt` derives the next candidate
    (the adapter moves on when STP says a candidate already belongs to another payment)."""
    if len(prefix) != 4 or not prefix.isdigit():
        raise ValueError(f"the STP CLABE prefix must be 4 digits, not {prefix!r}")
    digest = hashlib.sha256(f"cobro-stp-clabe:{payment_id}:{attempt}".encode()).digest()
    account = int.from_bytes(digest[:8], "big") % 10**7
    first17 = f"{STP_BANK_CODE}{STP_PLAZA}{prefix}{account:07d}"
    return first17 + str(compute_control_digit(first17))


def referencia_numerica(payment_id: str) -> int:
    """A 7-digit numeric reference (1,000,000-9,999,999) for the transfer, from the payment id.
    Informational only: deposits are matched by CLABE, which is unique per payment."""
    digest = hashlib.sha256(f"cobro-stp-ref:{payment_id}".encode()).digest()
    return 1_000_000 + int.from_bytes(digest[:8], "big") % 9_000_000


def monto_to_centavos(monto: object) -> int:
    """STP's `monto` (decimal pesos: a JSON number read as Decimal, or a numeric string) as
    exact integer centavos. Never through float: 0.29 pesos is 29 centavos, not 28.999...
    Raises ValueError for anything that is not a positive amount in whole centavos."""
    centavos = money.to_centavos(monto, "monto")
    if not 0 < centavos <= MAX_CENTAVOS:
        raise ValueError(f"monto {monto!r} is not a positive amount of pesos")
    return centavos


def centavos_to_monto(centavos: int) -> float:
    """Centavos as STP's JSON `monto`. A float only on the wire: for amounts with 2 decimals
    and fewer than 15 significant digits, Python writes the shortest repr, which the reader
    (parsing numbers as Decimal, `money.loads`) gets back exactly."""
    return float(money.to_pesos(centavos))


def stp_text(value: object, length: int) -> str:
    """A name as STP's SPEI fields take it: ASCII (accents dropped: "López" -> "Lopez"),
    trimmed, at most `length` characters; "ND" when there is none."""
    ascii_text = unicodedata.normalize("NFKD", str(value or "")).encode("ascii", "ignore")
    return ascii_text.decode("ascii").strip()[:length].strip() or "ND"


def ts_liquidacion(value: object) -> datetime:
    """`tsLiquidacion`: epoch milliseconds, sent as a string (or a number)."""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ValueError(f"tsLiquidacion must be epoch milliseconds, not {value!r}")
    text = str(value)
    if not text.isdigit():
        raise ValueError(f"tsLiquidacion {value!r} is not epoch milliseconds")
    return datetime.fromtimestamp(int(text) / 1000, tz=UTC)


@dataclass(frozen=True)
class Abono:
    """One deposit as STP notifies it (SendAbono), with the fields cobro relies on."""

    id: int
    clave_rastreo: str
    fecha_operacion: int
    cuenta_beneficiario: str  # the CLABE cobro issued
    cuenta_ordenante: str  # the payer's account: where a refund goes
    nombre_ordenante: str
    institucion_ordenante: int
    centavos: int
    empresa: str
    referencia_numerica: int | None
    settled_at: datetime


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool):
        raise ValueError(f"{name} must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    raise ValueError(f"{name} must be an integer, not {value!r}")


def _str(body: dict[str, Any], name: str, max_length: int = 120) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ValueError(f"{name} must be a non-empty string of at most {max_length} characters")
    return value


def _account(body: dict[str, Any], name: str) -> str:
    value = _str(body, name, 18)
    if not value.isdigit():
        raise ValueError(f"{name} must be digits, not {value!r}")
    return value


def abono_from(body: object) -> Abono:
    """Read STP's abono fields; raises ValueError naming the first bad one."""
    if not isinstance(body, dict):
        raise ValueError("an abono is a JSON object")
    referencia = body.get("referenciaNumerica")
    return Abono(
        id=_int(body, "id"),
        clave_rastreo=_str(body, "claveRastreo", 30),
        fecha_operacion=_int(body, "fechaOperacion"),
        cuenta_beneficiario=_account(body, "cuentaBeneficiario"),
        cuenta_ordenante=_account(body, "cuentaOrdenante"),
        nombre_ordenante=str(body.get("nombreOrdenante") or "ND")[:40],
        institucion_ordenante=_int(body, "institucionOrdenante"),
        centavos=monto_to_centavos(body.get("monto")),
        empresa=_str(body, "empresa", 15),
        referencia_numerica=(
            _int(body, "referenciaNumerica") if referencia not in (None, "") else None
        ),
        settled_at=ts_liquidacion(body.get("tsLiquidacion")),
    )


def deposits_event(
    clabe: str, event_id: str, total: int, psp_status: str, occurred_at: datetime
) -> PspEvent:
    """STP's report for a CLABE: the total it confirmed deposited there, cumulative. The
    workflow, which knows the payment's amount, decides what that means (partial, paid, excess
    or late money); STP itself has no notion of an amount due."""
    return PspEvent(
        psp="stp",
        event_id=event_id,
        kind="deposits",
        psp_reference=clabe,
        psp_status=psp_status,
        amount_received=total,
        occurred_at=occurred_at,
    )


def refund_result(clave_rastreo: str, orden: dict[str, Any]) -> PspRefundResult:
    """A sent order (consultaOrden tipoOrden "E") as a refund's state; UnknownRefundStatus (a
    ValueError) for an estado ORDEN_ENVIADA_ESTADOS does not list."""
    estado = orden.get("estado")
    status = refund_status("stp", ORDEN_ENVIADA_ESTADOS, estado)
    reason = None
    if status == "failed":
        causa = orden.get("causaDevolucion")
        reason = f"stp order {clave_rastreo} estado {estado}" + (
            f" (causaDevolucion {causa})" if causa not in (None, "") else ""
        )
    folio = orden.get("folioOrigen")  # cobro's refund id, on orders cobro registered
    return PspRefundResult(
        psp_reference=clave_rastreo,
        status=status,
        failure_reason=reason,
        refund_id=folio if isinstance(folio, str) and folio else None,
        psp_status=str(estado),
    )
