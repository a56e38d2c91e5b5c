from collections.abc import Mapping
from datetime import date

import httpx

from cobro.psp.inbound import InboundEvent
from cobro.psp.stripe import webhooks
from cobro.psp.stripe.adapter import StripeAdapter
from cobro.psp.stripe.client import StripeClient
from cobro.psp.stripe.config import StripeSettings
from cobro.psp.stripe.reconciliation import stripe_lines
from cobro.psp.wiring import Wiring
from cobro.reconciliation.lines import Lines, ReportReader


def client(settings: StripeSettings, http: httpx.AsyncClient) -> StripeClient:
    return StripeClient(settings.stripe_base_url, settings.stripe_api_key.get_secret_value(), http)


def report_reader(settings: StripeSettings, http: httpx.AsyncClient) -> ReportReader:
    stripe = client(settings, http)

    async def read(day: date) -> Lines:
        return await stripe_lines(stripe, day)

    return read


class Verifier:
    def __init__(self, settings: StripeSettings) -> None:
        self._secret = settings.stripe_webhook_secret.get_secret_value()

    async def verify(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> InboundEvent:
        return webhooks.parse(body, dict(headers), self._secret)


WIRING = Wiring(
    adapter=lambda settings, http: StripeAdapter(client(settings, http)),
    report_reader=report_reader,
    webhook_verifier=Verifier,
)
