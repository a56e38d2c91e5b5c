from collections.abc import Mapping
from functools import partial

import httpx

from cobro.psp.inbound import InboundEvent
from cobro.psp.stripe import webhooks
from cobro.psp.stripe.adapter import StripeAdapter
from cobro.psp.stripe.client import StripeClient
from cobro.psp.stripe.config import StripeSettings
from cobro.psp.stripe.reconciliation import stripe_lines
from cobro.psp.wiring import Wiring
from cobro.reconciliation.lines import ReportReader


def client(settings: StripeSettings, http: httpx.AsyncClient) -> StripeClient:
    return StripeClient(settings.stripe_base_url, settings.stripe_api_key.get_secret_value(), http)


def report_reader(settings: StripeSettings, http: httpx.AsyncClient) -> ReportReader:
    return partial(stripe_lines, client(settings, http))


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
