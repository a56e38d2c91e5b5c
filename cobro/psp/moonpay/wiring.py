from collections.abc import Mapping
from functools import partial

import httpx

from cobro.psp.inbound import InboundEvent
from cobro.psp.moonpay import webhooks
from cobro.psp.moonpay.adapter import MoonpayAdapter
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.moonpay.config import MoonpaySettings
from cobro.psp.moonpay.reconciliation import moonpay_lines
from cobro.psp.wiring import Wiring
from cobro.reconciliation.lines import ReportReader


def client(settings: MoonpaySettings, http: httpx.AsyncClient) -> MoonpayClient:
    return MoonpayClient(
        settings.moonpay_base_url, settings.moonpay_api_key.get_secret_value(), http
    )


def report_reader(settings: MoonpaySettings, http: httpx.AsyncClient) -> ReportReader:
    return partial(moonpay_lines, client(settings, http))


class Verifier:
    def __init__(self, settings: MoonpaySettings) -> None:
        self._key = settings.moonpay_webhook_key.get_secret_value()

    async def verify(
        self, body: bytes, headers: Mapping[str, str], query: Mapping[str, str]
    ) -> InboundEvent:
        return webhooks.parse(body, dict(headers), self._key)


WIRING = Wiring(
    adapter=lambda settings, http: MoonpayAdapter(client(settings, http)),
    report_reader=report_reader,
    webhook_verifier=Verifier,
)
