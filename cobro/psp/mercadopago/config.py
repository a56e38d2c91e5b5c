"""Mercado Pago's settings section: its env vars, the simulator's defaults, its base URL.

- MERCADOPAGO_ACCESS_TOKEN: the application's access token (`APP_USR-...`, or `TEST-...`),
  sent as `Authorization: Bearer`.
- MERCADOPAGO_WEBHOOK_SECRET: the application's webhook secret (Your integrations > Webhooks),
  the key of the `x-signature` HMAC.

Both required in live mode when Mercado Pago is in COBRO_PSPS; in simulator mode they default
to values shared with the simulator, which only authenticate traffic between local processes.
"""

from typing import ClassVar

from pydantic import SecretStr

from cobro.psp.settings_section import PspSection

SIMULATOR_ACCESS_TOKEN = "TEST-cobro-simulator-mercadopago"  # noqa: S105 (local only)
SIMULATOR_WEBHOOK_SECRET = "mp_whsec_cobro_simulator"  # noqa: S105 (local only)
MERCADOPAGO_LIVE_BASE_URL = "https://api.mercadopago.com"


class MercadopagoSettings(PspSection):
    mercadopago_access_token: SecretStr = SecretStr("")
    mercadopago_webhook_secret: SecretStr = SecretStr("")

    SIMULATOR_DEFAULTS: ClassVar = {
        "mercadopago_access_token": SecretStr(SIMULATOR_ACCESS_TOKEN),
        "mercadopago_webhook_secret": SecretStr(SIMULATOR_WEBHOOK_SECRET),
    }
    LIVE_REQUIRED: ClassVar = ("MERCADOPAGO_ACCESS_TOKEN", "MERCADOPAGO_WEBHOOK_SECRET")

    @property
    def mercadopago_base_url(self) -> str:
        return self.psp_url(MERCADOPAGO_LIVE_BASE_URL, "mercadopago")
