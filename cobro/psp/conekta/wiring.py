from collections.abc import Mapping
from functools import partial

import httpx

from cobro.psp.conekta import webhooks
from cobro.psp.conekta.adapter import ConektaAdapter
from cobro.psp.conekta.client import ConektaClient
from cobro.psp.conekta.config import ConektaSettings
from cobro.psp.conekta.reconciliation import conekta_lines
from cobro.psp.errors import PspError
from cobro.psp.inbound import InboundEvent, VerifierUnavailable
from cobro.psp.wiring import Wiring
from cobro.reconciliation.lines import ReportReader


def client(settings: ConektaSettings, http: httpx.AsyncClient) -> ConektaClient:
    return ConektaClient(
        settings.conekta_base_url, settings.conekta_api_key.get_secret_value(), http
    )


def report_reader(settings: ConektaSettings, http: httpx.AsyncClient) -> ReportReader:
    return partial(conekta_lines, client(settings, http))


class Verifier:
    """Conekta signs with an RSA key: configured, or (simulator) asked for once and kept."""

    def __init__(self, settings: ConektaSettings) -> None:
        self._settings = settings
        self._key = settings.conekta_webhook_public_key

    async def _public_key(self) -> str:
        if self._key is None:
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    self._key = await client(self._settings, http).create_webhook_key()
            except (PspError, httpx.HTTPError) as exc:
                raise VerifierUnavailable(
                    "The Conekta webhook key is not available yet; retry later."
                ) from exc
        return self._key

    async def verify(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> InboundEvent:
        return webhooks.parse(body, dict(headers), await self._public_key())


WIRING = Wiring(
    adapter=lambda settings, http: ConektaAdapter(client(settings, http)),
    report_reader=report_reader,
    webhook_verifier=Verifier,
)
