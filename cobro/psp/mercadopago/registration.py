"""Everything cobro's shared code needs to plug Mercado Pago in, built from settings: the
adapter, the notification confirmer, the webhook parser and the reconciliation report reader."""

from datetime import date

import httpx

from cobro.psp.inbound import InboundEvent
from cobro.psp.mercadopago import webhooks
from cobro.psp.mercadopago.adapter import MercadopagoAdapter
from cobro.psp.mercadopago.client import MercadopagoClient
from cobro.psp.mercadopago.confirmation import MercadopagoConfirmer
from cobro.psp.mercadopago.report import mercadopago_lines
from cobro.psp.mercadopago.settings import config
from cobro.psp.mercadopago.signature import SignatureError
from cobro.reconciliation.lines import Lines, ReportReader
from cobro.settings import Settings

__all__ = ["SignatureError", "mercadopago_adapter", "mercadopago_client", "parse_webhook"]


def mercadopago_client(settings: Settings, http: httpx.AsyncClient) -> MercadopagoClient:
    mp = config(settings)
    return MercadopagoClient(mp.base_url, mp.access_token.get_secret_value(), http)


def mercadopago_adapter(settings: Settings, http: httpx.AsyncClient) -> MercadopagoAdapter:
    return MercadopagoAdapter(mercadopago_client(settings, http))


def mercadopago_confirmer(settings: Settings, http: httpx.AsyncClient) -> MercadopagoConfirmer:
    return MercadopagoConfirmer(mercadopago_client(settings, http))


def mercadopago_reader(settings: Settings, http: httpx.AsyncClient) -> ReportReader:
    client = mercadopago_client(settings, http)

    async def read(day: date) -> Lines:
        return await mercadopago_lines(client, day)

    return read


def parse_webhook(
    settings: Settings, body: bytes, headers: dict[str, str], query: dict[str, str]
) -> InboundEvent:
    """SignatureError (-> 401) or MalformedWebhook (-> 400)."""
    secret = config(settings).webhook_secret.get_secret_value()
    return webhooks.parse(body, headers, query, secret)
