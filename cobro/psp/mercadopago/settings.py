"""Mercado Pago's section of cobro's configuration: its environment names, the live API's
address, and the values cobro and the simulator share in simulator mode.

- MERCADOPAGO_ACCESS_TOKEN: the application's access token (`APP_USR-...`, or `TEST-...` for
  test credentials), sent as `Authorization: Bearer`.
- MERCADOPAGO_WEBHOOK_SECRET: the application's webhook secret ("clave secreta", Your
  integrations > Webhooks), the key of the `x-signature` HMAC.

Both are required in live mode when Mercado Pago is enabled; in simulator mode they default to
the values below, which only authenticate traffic between two local processes.
"""

from dataclasses import dataclass

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from cobro.settings import Settings

NAME = "mercadopago"
LIVE_BASE_URL = "https://api.mercadopago.com"
SIMULATOR_ACCESS_TOKEN = "TEST-cobro-simulator-mercadopago"  # noqa: S105 (local only)
SIMULATOR_WEBHOOK_SECRET = "mp_whsec_cobro_simulator"  # noqa: S105 (local only)


class MercadopagoEnv(BaseSettings):
    # hide_input_in_errors: a configuration error must not print the secrets it was given.
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    mercadopago_access_token: SecretStr = SecretStr("")
    mercadopago_webhook_secret: SecretStr = SecretStr("")


@dataclass(frozen=True)
class MercadopagoConfig:
    base_url: str
    access_token: SecretStr
    webhook_secret: SecretStr


def config(settings: Settings, env: MercadopagoEnv | None = None) -> MercadopagoConfig:
    """Where and how to reach Mercado Pago; ValueError naming what live mode lacks."""
    env = env or MercadopagoEnv()
    token, secret = env.mercadopago_access_token, env.mercadopago_webhook_secret
    if settings.cobro_psp_mode == "live":
        missing = [
            name
            for name, value in (
                ("MERCADOPAGO_ACCESS_TOKEN", token),
                ("MERCADOPAGO_WEBHOOK_SECRET", secret),
            )
            if not value
        ]
        if missing:
            raise ValueError(
                f"COBRO_PSP_MODE=live needs {', '.join(missing)}; set it in the environment"
            )
        return MercadopagoConfig(LIVE_BASE_URL, token, secret)
    return MercadopagoConfig(
        f"{settings.simulator_url}/mercadopago",
        token or SecretStr(SIMULATOR_ACCESS_TOKEN),
        secret or SecretStr(SIMULATOR_WEBHOOK_SECRET),
    )
