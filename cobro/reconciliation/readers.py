"""The report reader of every PSP this deployment routes to, built from settings."""

from datetime import date

import httpx

from cobro.psp import registry
from cobro.reconciliation.conekta import conekta_lines
from cobro.reconciliation.lines import Lines, ReportReader
from cobro.reconciliation.moonpay import moonpay_lines
from cobro.reconciliation.stp import stp_lines
from cobro.reconciliation.stripe import stripe_lines
from cobro.settings import Settings


def report_readers(settings: Settings, http: httpx.AsyncClient) -> dict[str, ReportReader]:
    stripe = registry.stripe_client(settings, http)
    conekta = registry.conekta_client(settings, http)
    stp = registry.stp_client(settings, http)
    moonpay = registry.moonpay_client(settings, http)

    async def read_stripe(day: date) -> Lines:
        return await stripe_lines(stripe, day)

    async def read_conekta(day: date) -> Lines:
        return await conekta_lines(conekta, day)

    async def read_stp(day: date) -> Lines:
        return await stp_lines(stp, day)

    async def read_moonpay(day: date) -> Lines:
        return await moonpay_lines(moonpay, day)

    readers: dict[str, ReportReader] = {
        "stripe": read_stripe,
        "conekta": read_conekta,
        "stp": read_stp,
        "moonpay": read_moonpay,
    }
    return {psp: read for psp, read in readers.items() if psp in settings.enabled_psps}
