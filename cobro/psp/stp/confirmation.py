"""STP deposits are credited only on STP's own word.

STP's notifications are not signed: Basic auth and an address allowlist say who may send them,
not that the money is there. A notified deposit becomes an event the workflow may receive only
once STP's order query reports it settled, to this CLABE, for this amount; the event then
carries the total STP reports for the CLABE, never the notification's amount.

A cambioEstado callback (a refund's transfer changed state) is confirmed the same way: the
refund's state the workflow gets is the one STP's consultaOrden reports for the order, and a
callback for an order STP still shows on its way is asked about again later.
"""

from cobro.domain import money
from cobro.domain.payment import PspEvent
from cobro.psp.errors import PspError
from cobro.psp.inbound import ConfirmationDenied, NotConfirmedYet
from cobro.psp.stp import cambio_estado, webhooks
from cobro.psp.stp.adapter import DepositMismatch, StpAdapter, clave_rastreo_for


class StpConfirmer:
    def __init__(self, adapter: StpAdapter, empresa: str) -> None:
        self._adapter = adapter
        self._empresa = empresa

    async def confirm(self, raw_body: bytes) -> PspEvent:
        try:
            is_cambio = cambio_estado.is_cambio_estado(money.loads(raw_body))
        except ValueError:
            is_cambio = False
        if is_cambio:
            return await self._confirm_cambio(raw_body)
        inbound, abono = webhooks.parse(raw_body, self._empresa)
        try:
            await self._adapter.confirm_deposit(abono)
            total, count = await self._adapter.deposits_total(abono.cuenta_beneficiario)
        except DepositMismatch as exc:
            raise ConfirmationDenied(str(exc)) from exc
        except PspError as exc:  # not settled (yet), or STP could not be asked
            raise NotConfirmedYet(str(exc)) from exc
        return inbound.event.model_copy(
            update={
                "amount_received": total,
                "psp_status": f"abono {abono.clave_rastreo}, {count} in all",
            }
        )

    async def _confirm_cambio(self, raw_body: bytes) -> PspEvent:
        inbound, cambio = cambio_estado.parse(raw_body, self._empresa)
        clave = clave_rastreo_for(cambio.folio_origen)
        try:
            report = await self._adapter.get_refund(clave)
        except ValueError as exc:  # an estado no mapping knows: ops decide, nothing guessed
            raise ConfirmationDenied(str(exc)) from exc
        except PspError as exc:  # STP could not be asked: ask again later
            raise NotConfirmedYet(str(exc)) from exc
        if report.status == "pending":
            raise NotConfirmedYet(
                f"STP shows order {clave} as {report.psp_status}, not {cambio.estado}"
            )
        return inbound.event.model_copy(
            update={
                "refund": report.model_copy(update={"refund_id": cambio.folio_origen}),
                "psp_status": f"cambioEstado {cambio.estado}; STP reports {report.psp_status}",
            }
        )
