"""STP's "cambioEstado" callback: an outbound order (a cobro refund) changed state.

STP POSTs `{"id", "empresa", "folioOrigen", "estado", "causaDevolucion", "tsLiquidacion"}`
(notes/psp-wire.md §3) and expects `{"mensaje": "recibido"}`. Like deposit notifications it is
not signed, so it moves nothing on its own word: the receiver stores it, and the refund's state
the workflow gets is STP's own answer to consultaOrden for that order (tipoOrden "E"), read by
StpConfirmer. `folioOrigen` is cobro's refund id (sent in registraOrden), which finds the
payment; the order's claveRastreo is derived from it.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from cobro.domain import money
from cobro.domain.payment import PspEvent
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.stp import mapping

RECIBIDO: dict[str, object] = {"mensaje": "recibido"}
EVENT_TYPE = "cambioEstado"


@dataclass(frozen=True)
class CambioEstado:
    id: int
    folio_origen: str  # cobro's refund id
    estado: str
    empresa: str


def is_cambio_estado(body: object) -> bool:
    """A cambioEstado names the order by folioOrigen; a deposit notification by claveRastreo."""
    return isinstance(body, dict) and "folioOrigen" in body and "claveRastreo" not in body


def parse(body: bytes, empresa: str) -> tuple[InboundEvent, CambioEstado]:
    """The callback and the (unconfirmed) event it becomes; MalformedWebhook (400) when it
    cannot be read or is for another empresa."""
    try:
        data = money.loads(body)
        if not is_cambio_estado(data):
            raise ValueError("a cambioEstado is a JSON object with folioOrigen")
        cambio = CambioEstado(
            id=mapping._int(data, "id"),
            folio_origen=mapping._str(data, "folioOrigen", 50),
            estado=mapping._str(data, "estado", 20),
            empresa=mapping._str(data, "empresa", 15),
        )
        ts = data.get("tsLiquidacion")
        occurred_at = mapping.ts_liquidacion(ts) if ts not in (None, "") else datetime.now(UTC)
    except ValueError as exc:  # includes JSON errors
        raise MalformedWebhook(f"not an STP cambioEstado: {exc}") from exc
    if cambio.empresa != empresa:
        raise MalformedWebhook(f"cambioEstado for empresa {cambio.empresa!r}; this is {empresa!r}")
    event = PspEvent(
        psp="stp",
        # One event per order and state: a repeated callback is the same event.
        event_id=f"stp:orden:{cambio.id}:{cambio.estado}",
        kind="refund",
        psp_reference=cambio.folio_origen,
        psp_status=f"cambioEstado {cambio.estado}",
        occurred_at=occurred_at,
    )
    return InboundEvent(event=event, event_type=EVENT_TYPE, payment_id_hint=None), cambio
