from typing import ClassVar

from pydantic import SecretStr

from cobro.psp.settings_section import PspSection

# Test values shared by cobro and the simulator in simulator mode (not secrets).
SIMULATOR_STRIPE_API_KEY = "sk_test_cobro_simulator"
SIMULATOR_STRIPE_WEBHOOK_SECRET = "whsec_cobro_simulator_stripe"  # noqa: S105
STRIPE_LIVE_BASE_URL = "https://api.stripe.com"


class StripeSettings(PspSection):
    stripe_api_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")

    SIMULATOR_DEFAULTS: ClassVar = {
        "stripe_api_key": SecretStr(SIMULATOR_STRIPE_API_KEY),
        "stripe_webhook_secret": SecretStr(SIMULATOR_STRIPE_WEBHOOK_SECRET),
    }
    LIVE_REQUIRED: ClassVar = ("STRIPE_API_KEY", "STRIPE_WEBHOOK_SECRET")

    @property
    def stripe_base_url(self) -> str:
        return self.psp_url(STRIPE_LIVE_BASE_URL, "stripe")
