"""The report reader of every PSP this deployment routes to, built from settings."""

import httpx

from cobro.psp.connectors import CONNECTORS
from cobro.reconciliation.lines import ReportReader
from cobro.settings import Settings


def report_readers(settings: Settings, http: httpx.AsyncClient) -> dict[str, ReportReader]:
    return {
        c.name: c.wiring().report_reader(settings, http)
        for c in CONNECTORS
        if c.name in settings.enabled_psps
    }
