"""Mercado Pago's I/O half: its client, adapter, webhook verifier, notification confirmer and
settlement report reader, built from the process's settings."""

from collections.abc import Mapping
from functools import partial

import httpx

from cobro.psp.inbound import InboundEvent
from cobro.psp.mercadopago import webhooks
from cobro.psp.mercadopago.adapter import MercadopagoAdapter
from cobro.psp.mercadopago.client import MercadopagoClient
from cobro.psp.mercadopago.config import MercadopagoSettings
from cobro.psp.mercadopago.confirmation import MercadopagoConfirmer
from cobro.psp.mercadopago.reconciliation import mercadopago_lines
from cobro.psp.wiring import Wiring
from cobro.reconciliation.lines import ReportReader


def client(settings: MercadopagoSettings, http: httpx.AsyncClient) -> MercadopagoClient:
    token = settings.mercadopago_access_token.get_secret_value()
    return MercadopagoClient(settings.mercadopago_base_url, token, http)


def report_reader(settings: MercadopagoSettings, http: httpx.AsyncClient) -> ReportReader:
    return partial(mercadopago_lines, client(settings, http))


class Verifier:
    """`x-signature` over the URL's `data.id`, `x-request-id` and `ts` (signature.py)."""

    def __init__(self, settings: MercadopagoSettings) -> None:
        self._secret = settings.mercadopago_webhook_secret.get_secret_value()

    async def verify(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> InboundEvent:
        return webhooks.parse(body, dict(headers), dict(query), self._secret)


WIRING = Wiring(
    adapter=lambda settings, http: MercadopagoAdapter(client(settings, http)),
    report_reader=report_reader,
    webhook_verifier=Verifier,
    # A notification names the payment only: it counts once GET /v1/payments/{id} says what.
    confirmer=lambda settings, http: MercadopagoConfirmer(client(settings, http)),
)
