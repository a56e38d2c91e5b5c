from typing import ClassVar

from pydantic import SecretStr

from cobro.psp.settings_section import PspSection

SIMULATOR_CONEKTA_API_KEY = "key_cobro_simulator_conekta"
CONEKTA_LIVE_BASE_URL = "https://api.conekta.io"


class ConektaSettings(PspSection):
    conekta_api_key: SecretStr = SecretStr("")
    # PEM public key from Conekta's POST /webhook_keys; in simulator mode fetched from the
    # simulator on first use.
    conekta_webhook_public_key: str | None = None

    SIMULATOR_DEFAULTS: ClassVar = {"conekta_api_key": SecretStr(SIMULATOR_CONEKTA_API_KEY)}
    LIVE_REQUIRED: ClassVar = ("CONEKTA_API_KEY", "CONEKTA_WEBHOOK_PUBLIC_KEY")

    @property
    def conekta_base_url(self) -> str:
        return self.psp_url(CONEKTA_LIVE_BASE_URL, "conekta")
