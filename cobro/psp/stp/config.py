import ipaddress
from typing import Any, ClassVar, Literal

from pydantic import SecretStr

from cobro.psp.settings_section import PspSection

SIMULATOR_STP_EMPRESA = "COBRO"
SIMULATOR_STP_CLABE_PREFIX = "4321"
SIMULATOR_STP_WEBHOOK_USER = "stp_cobro_simulator"
SIMULATOR_STP_WEBHOOK_PASSWORD = "stp_simulator_password"  # noqa: S105
SIMULATOR_STP_ALLOWED_IPS = "127.0.0.1"
# STP's SPEI web services (registraOrden) and its "efws" query services (stpmex-python).
STP_LIVE_BASE_URL = "https://prod.stpmex.com/speiws/rest"
STP_LIVE_EFWS_URL = "https://prod.stpmex.com"


class StpSettings(PspSection):
    # The company's alias at STP ("empresa"), the 4-digit prefix STP gave it for its CLABEs,
    # and the beneficiary name payers see.
    stp_empresa: str | None = None
    stp_clabe_prefix: str | None = None
    stp_beneficiary: str = "Cobro Pagos SA de CV"
    # STP's deposit notifications are not signed: they must carry these Basic credentials and
    # come from these addresses or networks (comma-separated, e.g. "10.1.2.3,10.9.0.0/16").
    stp_webhook_user: str | None = None
    stp_webhook_password: SecretStr = SecretStr("")
    stp_allowed_ips: str | None = None
    # A deposit to a CLABE that matches no payment: "hold" accepts it and keeps it for ops,
    # "return" answers STP with a devolución, sending it back to the payer.
    stp_unmatched_rule: Literal["hold", "return"] = "hold"

    SIMULATOR_DEFAULTS: ClassVar = {
        "stp_empresa": SIMULATOR_STP_EMPRESA,
        "stp_clabe_prefix": SIMULATOR_STP_CLABE_PREFIX,
        "stp_webhook_user": SIMULATOR_STP_WEBHOOK_USER,
        "stp_webhook_password": SecretStr(SIMULATOR_STP_WEBHOOK_PASSWORD),
        "stp_allowed_ips": SIMULATOR_STP_ALLOWED_IPS,
    }
    LIVE_REQUIRED: ClassVar = (
        "STP_EMPRESA",
        "STP_CLABE_PREFIX",
        "STP_WEBHOOK_USER",
        "STP_WEBHOOK_PASSWORD",
        "STP_ALLOWED_IPS",
    )

    @classmethod
    def check(cls, settings: Any) -> None:
        prefix = settings.stp_clabe_prefix
        if prefix is not None and not (len(prefix) == 4 and prefix.isdigit()):
            raise ValueError(f"STP_CLABE_PREFIX must be 4 digits, not {prefix!r}")
        for entry in (settings.stp_allowed_ips or "").split(","):
            if entry.strip():
                try:
                    ipaddress.ip_network(entry.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"STP_ALLOWED_IPS: {entry.strip()!r} is not an address or network"
                    ) from None

    @property
    def stp_base_url(self) -> str:
        return self.psp_url(STP_LIVE_BASE_URL, "stp")

    @property
    def stp_efws_url(self) -> str:
        return self.psp_url(STP_LIVE_EFWS_URL, "stp")
