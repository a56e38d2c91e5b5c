"""The PSP clients and adapters a process talks to, built from settings (simulator or live
URLs)."""

from functools import lru_cache
from pathlib import Path

import httpx

from cobro.psp.adapter import PspAdapter
from cobro.psp.conekta.adapter import ConektaAdapter
from cobro.psp.conekta.client import ConektaClient
from cobro.psp.inbound import Confirmer
from cobro.psp.moonpay.adapter import MoonpayAdapter
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.stp.adapter import StpAdapter
from cobro.psp.stp.client import StpClient
from cobro.psp.stp.confirmation import StpConfirmer
from cobro.psp.stp.firma import Signer, load_signer
from cobro.psp.stripe.adapter import StripeAdapter
from cobro.psp.stripe.client import StripeClient
from cobro.settings import Settings


def conekta_client(settings: Settings, http: httpx.AsyncClient) -> ConektaClient:
    return ConektaClient(
        settings.conekta_base_url, settings.conekta_api_key.get_secret_value(), http
    )


def stripe_client(settings: Settings, http: httpx.AsyncClient) -> StripeClient:
    return StripeClient(settings.stripe_base_url, settings.stripe_api_key.get_secret_value(), http)


@lru_cache(maxsize=4)
def _stp_signer(pem: str, path: Path | None, passphrase: str) -> Signer:
    return load_signer(pem, path, passphrase)  # loaded once per process, not per client


def stp_signer(settings: Settings) -> Signer:
    return _stp_signer(
        settings.stp_private_key.get_secret_value(),
        settings.stp_private_key_path,
        settings.stp_key_passphrase.get_secret_value(),
    )


def stp_client(settings: Settings, http: httpx.AsyncClient) -> StpClient:
    return StpClient(
        settings.stp_base_url,
        settings.stp_efws_url,
        settings.stp_empresa or "",
        http,
        signer=stp_signer(settings),
    )


def moonpay_client(settings: Settings, http: httpx.AsyncClient) -> MoonpayClient:
    return MoonpayClient(
        settings.moonpay_base_url, settings.moonpay_api_key.get_secret_value(), http
    )


def stp_adapter(settings: Settings, http: httpx.AsyncClient) -> StpAdapter:
    client = stp_client(settings, http)
    return StpAdapter(client, settings.stp_clabe_prefix or "", settings.stp_beneficiary)


def build_adapters(settings: Settings, http: httpx.AsyncClient) -> dict[str, PspAdapter]:
    adapters: dict[str, PspAdapter] = {
        "stripe": StripeAdapter(stripe_client(settings, http)),
        "conekta": ConektaAdapter(conekta_client(settings, http)),
        "stp": stp_adapter(settings, http),
        "moonpay": MoonpayAdapter(moonpay_client(settings, http)),
    }
    return {name: a for name, a in adapters.items() if name in settings.enabled_psps}


def build_confirmers(settings: Settings, http: httpx.AsyncClient) -> dict[str, Confirmer]:
    """The PSPs whose notifications count only once the PSP's own query confirms them."""
    confirmers: dict[str, Confirmer] = {}
    if "stp" in settings.enabled_psps:
        confirmers["stp"] = StpConfirmer(stp_adapter(settings, http), settings.stp_empresa or "")
    return confirmers
