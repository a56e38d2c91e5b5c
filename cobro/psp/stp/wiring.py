from datetime import date

import httpx

from cobro.domain import money
from cobro.psp.stp import mapping
from cobro.psp.stp.adapter import StpAdapter
from cobro.psp.stp.client import StpClient
from cobro.psp.stp.config import StpSettings
from cobro.psp.stp.confirmation import StpConfirmer
from cobro.psp.stp.reconciliation import stp_lines
from cobro.psp.wiring import ClaimedDeposit, DepositRefused, Wiring
from cobro.reconciliation.lines import Lines, ReportReader


def client(settings: StpSettings, http: httpx.AsyncClient) -> StpClient:
    return StpClient(settings.stp_base_url, settings.stp_efws_url, settings.stp_empresa or "", http)


def adapter(settings: StpSettings, http: httpx.AsyncClient) -> StpAdapter:
    prefix = settings.stp_clabe_prefix or ""
    return StpAdapter(client(settings, http), prefix, settings.stp_beneficiary)


def report_reader(settings: StpSettings, http: httpx.AsyncClient) -> ReportReader:
    stp = client(settings, http)

    async def read(day: date) -> Lines:
        return await stp_lines(stp, day)

    return read


def confirmer(settings: StpSettings, http: httpx.AsyncClient) -> StpConfirmer:
    return StpConfirmer(adapter(settings, http), settings.stp_empresa or "")


def notified_amount(raw_body: bytes) -> int:
    return mapping.abono_from(money.loads(raw_body)).centavos


class DepositClaimer:
    def __init__(self, stp: StpAdapter) -> None:
        self._stp = stp

    async def confirm(self, event_type: str, raw_body: bytes) -> ClaimedDeposit:
        """Raises PspRejected when STP does not confirm it: notifications are unsigned, so
        only STP's own record of the transfer counts."""
        if event_type != "abono":
            raise DepositRefused(f"a {event_type!r}, not a deposit cobro kept")
        abono = mapping.abono_from(money.loads(raw_body))
        await self._stp.confirm_deposit(abono)
        return ClaimedDeposit(amount=abono.centavos, reference=abono.clave_rastreo)


WIRING = Wiring(
    adapter=adapter,
    report_reader=report_reader,
    confirmer=confirmer,
    deposit_claimer=lambda settings, http: DepositClaimer(adapter(settings, http)),
    notified_amount=notified_amount,
)
