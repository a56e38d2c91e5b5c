from typing import ClassVar

from pydantic import SecretStr

from cobro.psp.settings_section import PspSection

SIMULATOR_MOONPAY_API_KEY = "sk_test_cobro_simulator_moonpay"
SIMULATOR_MOONPAY_PUBLISHABLE_KEY = "pk_test_cobro_simulator_moonpay"
SIMULATOR_MOONPAY_WEBHOOK_KEY = "wk_test_cobro_simulator_moonpay"
MOONPAY_LIVE_BASE_URL = "https://api.moonpay.com"
MOONPAY_LIVE_WIDGET_URL = "https://buy.moonpay.com"


class MoonpaySettings(PspSection):
    # The secret API key (`sk_...`: `Authorization: Api-Key` on server calls, and the key the
    # widget URL is signed with), the publishable key (`pk_...`, the widget URL's `apiKey`) and
    # the webhook API key that `Moonpay-Signature-V2` is an HMAC with.
    moonpay_api_key: SecretStr = SecretStr("")
    moonpay_publishable_key: str = ""
    moonpay_webhook_key: SecretStr = SecretStr("")

    SIMULATOR_DEFAULTS: ClassVar = {
        "moonpay_api_key": SecretStr(SIMULATOR_MOONPAY_API_KEY),
        "moonpay_publishable_key": SIMULATOR_MOONPAY_PUBLISHABLE_KEY,
        "moonpay_webhook_key": SecretStr(SIMULATOR_MOONPAY_WEBHOOK_KEY),
    }
    LIVE_REQUIRED: ClassVar = ("MOONPAY_API_KEY", "MOONPAY_PUBLISHABLE_KEY", "MOONPAY_WEBHOOK_KEY")

    @property
    def moonpay_base_url(self) -> str:
        return self.psp_url(MOONPAY_LIVE_BASE_URL, "moonpay")

    @property
    def moonpay_widget_url(self) -> str:
        """Where the customer buys: MoonPay's widget (the simulator's stand-in for it)."""
        return self.psp_url(MOONPAY_LIVE_WIDGET_URL, "moonpay/buy")
