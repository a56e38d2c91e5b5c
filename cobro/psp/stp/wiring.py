from functools import lru_cache, partial
from pathlib import Path

import httpx

from cobro.domain import money
from cobro.psp.stp import cambio_estado, mapping
from cobro.psp.stp.adapter import StpAdapter
from cobro.psp.stp.client import StpClient
from cobro.psp.stp.config import StpSettings
from cobro.psp.stp.confirmation import StpConfirmer
from cobro.psp.stp.firma import Signer, load_signer
from cobro.psp.stp.operating_day import operating_window
from cobro.psp.stp.reconciliation import stp_lines
from cobro.psp.wiring import ClaimedDeposit, DepositRefused, Wiring
from cobro.reconciliation.lines import ReportReader


@lru_cache(maxsize=4)
def _signer(pem: str, path: Path | None, passphrase: str) -> Signer:
    return load_signer(pem, path, passphrase)  # loaded once per process, not per client


def signer(settings: StpSettings) -> Signer:
    """What every STP request's firma is made with (STP_PRIVATE_KEY[_PATH], its passphrase)."""
    return _signer(
        settings.stp_private_key.get_secret_value(),
        settings.stp_private_key_path,
        settings.stp_key_passphrase.get_secret_value(),
    )


def client(settings: StpSettings, http: httpx.AsyncClient) -> StpClient:
    return StpClient(
        settings.stp_base_url,
        settings.stp_efws_url,
        settings.stp_empresa or "",
        http,
        signer=signer(settings),
    )


def adapter(settings: StpSettings, http: httpx.AsyncClient) -> StpAdapter:
    prefix = settings.stp_clabe_prefix or ""
    return StpAdapter(client(settings, http), prefix, settings.stp_beneficiary)


def report_reader(settings: StpSettings, http: httpx.AsyncClient) -> ReportReader:
    return partial(stp_lines, client(settings, http))


def confirmer(settings: StpSettings, http: httpx.AsyncClient) -> StpConfirmer:
    return StpConfirmer(adapter(settings, http), settings.stp_empresa or "")


def notified_amount(raw_body: bytes) -> int | None:
    body = money.loads(raw_body)
    if cambio_estado.is_cambio_estado(body):  # a refund's state change carries no amount
        return None
    return mapping.abono_from(body).centavos


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
    report_day=operating_window,
)
