"""The PSP adapters and confirmers a process talks to, built from settings (simulator or live
URLs) for the enabled connectors (cobro/psp/connectors.py)."""

import httpx

from cobro.psp.adapter import PspAdapter
from cobro.psp.connectors import CONNECTORS
from cobro.psp.inbound import Confirmer
from cobro.psp.wiring import DepositClaimer
from cobro.settings import Settings


def build_adapters(settings: Settings, http: httpx.AsyncClient) -> dict[str, PspAdapter]:
    return {
        c.name: c.wiring().adapter(settings, http)
        for c in CONNECTORS
        if c.name in settings.enabled_psps
    }


def build_confirmers(settings: Settings, http: httpx.AsyncClient) -> dict[str, Confirmer]:
    """The PSPs whose notifications count only once the PSP's own query confirms them."""
    confirmers: dict[str, Confirmer] = {}
    for c in CONNECTORS:
        make = c.wiring().confirmer
        if make is not None and c.name in settings.enabled_psps:
            confirmers[c.name] = make(settings, http)
    return confirmers


def build_deposit_claimers(
    settings: Settings, http: httpx.AsyncClient
) -> dict[str, DepositClaimer]:
    """The enabled PSPs that accept deposit claims, with their confirmation of a deposit."""
    claimers: dict[str, DepositClaimer] = {}
    for c in CONNECTORS:
        make = c.wiring().deposit_claimer
        if make is not None and c.capability.accepts_deposit_claims:
            if c.name in settings.enabled_psps:
                claimers[c.name] = make(settings, http)
    return claimers
