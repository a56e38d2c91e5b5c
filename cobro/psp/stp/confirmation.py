"""STP deposits are credited only on STP's own word.

STP's notifications are not signed: Basic auth and an address allowlist say who may send them,
not that the money is there. A notified deposit becomes an event the workflow may receive only
once STP's order query reports it settled, to this CLABE, for this amount; the event then
carries the total STP reports for the CLABE, never the notification's amount.
"""

from cobro.domain.payment import PspEvent
from cobro.psp.errors import PspError
from cobro.psp.inbound import ConfirmationDenied, NotConfirmedYet
from cobro.psp.stp import webhooks
from cobro.psp.stp.adapter import DepositMismatch, StpAdapter


class StpConfirmer:
    def __init__(self, adapter: StpAdapter, empresa: str) -> None:
        self._adapter = adapter
        self._empresa = empresa

    async def confirm(self, raw_body: bytes) -> PspEvent:
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
