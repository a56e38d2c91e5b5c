import ipaddress
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import SecretStr, field_validator

from cobro.psp.settings_section import PspSection

SIMULATOR_STP_EMPRESA = "COBRO"
SIMULATOR_STP_CLABE_PREFIX = "4321"
SIMULATOR_STP_WEBHOOK_USER = "stp_cobro_simulator"
SIMULATOR_STP_WEBHOOK_PASSWORD = "stp_simulator_password"  # noqa: S105
SIMULATOR_STP_ALLOWED_IPS = "127.0.0.1"
# The key pair cobro signs STP requests with in simulator mode (not a secret: like the values
# above it only authenticates traffic between two local processes). The simulator knows only
# the public half, as STP knows only the certificate a company registered; the private half
# is encrypted with a passphrase, as STP's keys are, so the same code loads both.
SIMULATOR_STP_KEY_PASSPHRASE = "cobro-simulator-stp"  # noqa: S105 (dev only)

SIMULATOR_STP_PRIVATE_KEY = """\
-----BEGIN ENCRYPTED PRIVATE KEY-----
MIIFNTBfBgkqhkiG9w0BBQ0wUjAxBgkqhkiG9w0BBQwwJAQQidxR0EK44b+TbLFs
7XvFygICCAAwDAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEKUrVTHJZh6IfeE1
LZZDWbIEggTQVIiknK94gluEiB1RX0islIWlEzTzc24WFX5y1nGRfdEjnKNRL4lY
xfFtTkEzjL6wEh4oaN9uelS+U9Btq3hhU6bDpgig+oXtXZENKF0UFDux2MbaNwS0
EqhMhBILnrUMZguw9c+Uu0llI2TwUwOBUGVflDl1FhlVdc7K41NZ9QqJruAJc/d+
ivLhXzjJAyRz5ep3KUopxrnNqkKqATum4mSILQE4z22uJA7sYWxXCSwlXf54syhD
/W7NT9cR8XUiIW1w41fUN3MYtuk1vCNnqntZBYMYGaTKcfLtpchS0t05UIP21IH7
k8tn+jAwUOGXuKQt41e3Q8q5Gx5G6C6O/6jPdp20kYc/1Mw8+k9G6eqQ9AaQkljJ
mUkY6HPAzFWEGAfYejU8ySv0nedZTFENxl0rOiTN8kE4sNsU6WQfWuXk3HVLUPRJ
GDfnDi1pporKNbk2nzeo1gLTYHe6GuD8V5Z08wNC2+ZjROUSu00dAVRf5UGQMgan
5XJwNf+uHjfdc2+C4rYs5c8RdyfJ9LGIwOmkTNL1PhNs5hPjHaKl7thyMGssHUUV
BF3A++VD30bePd/1ss8f9j9gah0gxMvXeE5Et+2Hd+/w/kUny92WR3u8e873H4ag
XxGa/I8LB9BXPTkVLFM7ybZqP+3/WsmqQiwMD9tgVPEdOhkJeAJolMdDz4hvtibW
jyb1BfEfS13mwMVhdjM/gYv4uEaHcfWP6jJkh36dvrak4slL5bjZJjKGri1bdZcH
ePpwqQKw2n4h5i8jaiJrGScgVSvDEgsTRgsg2PFF/+8PhcusOqIaEP42OSlQIJPc
c149dIFK5BvV2IpJiWpOTXBi/I4/ByAMA/Hrb+gVdhJtFmwJO9Nb7+JlxQwmR5zf
ZoX+YJuoeX0bFdNE1u9JcaZJY2yaRJ3mpOCjALdWVOXj0GEjmOwUEdbg9CbIUEbI
XQa6bC+B5GcsqrlN4lIB3nx18ACnlqA/h1Lqj/CBrdHY595NZW2pR57lsjkZPHpQ
qDJyo/mhtJQ2HYaSMIvTpu+gK9kHv9XjLr8/EZemy39cV29DDUkuo6fspUI9EQlH
sBdWgtRJKtLq26Dv5djZA2KBkXFFPUJhH0d1RZb29hHeg7H+v/ctTExaV8qOa5R5
hsdUsmEoUPdwjwUl2cAddMLj8bDgdCLWmvf5KGZFmIUzrwxlqLZh5+CgNpf6Dzv6
agGn+xHDee67eFvaJX2SUoGSh/qmJf+iRbtn8irbo0y6/16yBmBAhSWA+5ZMtP+e
NAWQF7Wfv607dnKOfTZ5gQBgzu78XtySxYpb3ypKmNrAiNCJ51eUtc4o2WAat6mi
o5VjS/Dv7w3++MClJsE5RQMW/6gpeMjrAmn8K7s8lxK58Cd/L5/S5UP/EZuwKB0j
TSy0vjhKAU7LqtbvXqjP6c3WUgtDQDve7p4sK4/P1GhBsRvgBMb+YOx3creoNDuu
hwACPsaPNGjfUqVJNmQIt4w0fm119vYfACI8bGU38DJMYojh+7b1f/IvNQHKxwSp
CF6h7qmCFIOVG3f+iIXFw9Np+O6O2t662FCOCkBuM/0nLxWWAMJWYTGFelgJMH4T
FqJxuHI7VYusXMHH2wEQCSXgkYt3c0K3URE+ZVTke4o6ca771ocfDXQ=
-----END ENCRYPTED PRIVATE KEY-----
"""

SIMULATOR_STP_PUBLIC_KEY = """\
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuVN1UQY6juXkI36o6Hv1
RxVkS5g3/j+C2S39J/c+edrNKT8aqgUtTIFmyep8Q6ThDsEkXKFj34zgQEzqNzHM
3oHz/tIliK7LnG4kLRKj3xk3VrbUAqBA/cgPlSuOWX4TvQF/CYcHpGLuKxQTqABU
i1jVMieQkZ7fnXz/dE4O+MF1mWf6UV7aAwrJUDmEW4kJ0Gfk8wj4Yj2ftPpZSgJ9
ycUAHpR8uZxCkcqrAxoZz7yWGE95gMKYejuJBlIYQKHg4tcTNEW0lt0arO0vim2W
SRdJ4Jd6LNAptcca4gV1imSVpZdUT8rPKNE0VphpRoJRjuRNgdP7bC+aVFS0r5+a
QwIDAQAB
-----END PUBLIC KEY-----
"""

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
    # STP requests carry a `firma` made with the company's RSA key (cobro/psp/stp/firma.py): a
    # PEM file at STP_PRIVATE_KEY_PATH, else PEM text in STP_PRIVATE_KEY, with
    # STP_KEY_PASSPHRASE. Simulator mode: the development key whose public half the simulator
    # knows (SIMULATOR_STP_PUBLIC_KEY above).
    stp_private_key: SecretStr = SecretStr("")
    stp_private_key_path: Path | None = None
    stp_key_passphrase: SecretStr = SecretStr("")

    @field_validator("stp_private_key_path", mode="before")
    @classmethod
    def _no_empty_path(cls, value: object) -> object:
        return None if value == "" else value  # STP_PRIVATE_KEY_PATH= (empty) is unset, not "."

    SIMULATOR_DEFAULTS: ClassVar = {
        "stp_empresa": SIMULATOR_STP_EMPRESA,
        "stp_clabe_prefix": SIMULATOR_STP_CLABE_PREFIX,
        "stp_webhook_user": SIMULATOR_STP_WEBHOOK_USER,
        "stp_webhook_password": SecretStr(SIMULATOR_STP_WEBHOOK_PASSWORD),
        "stp_allowed_ips": SIMULATOR_STP_ALLOWED_IPS,
        "stp_private_key": SecretStr(SIMULATOR_STP_PRIVATE_KEY),
        "stp_key_passphrase": SecretStr(SIMULATOR_STP_KEY_PASSPHRASE),
    }
    LIVE_REQUIRED: ClassVar = (
        "STP_EMPRESA",
        "STP_CLABE_PREFIX",
        "STP_WEBHOOK_USER",
        "STP_WEBHOOK_PASSWORD",
        "STP_ALLOWED_IPS",
        "STP_KEY_PASSPHRASE",  # and STP_PRIVATE_KEY or STP_PRIVATE_KEY_PATH (check below)
    )

    @classmethod
    def check(cls, settings: Any) -> None:
        live = settings.cobro_psp_mode == "live" and "stp" in settings.enabled_psps
        if live and not (settings.stp_private_key or settings.stp_private_key_path):
            raise ValueError(
                "COBRO_PSP_MODE=live needs STP_PRIVATE_KEY or STP_PRIVATE_KEY_PATH; "
                "set it in the environment"
            )
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
