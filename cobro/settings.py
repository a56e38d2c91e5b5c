"""All configuration, read from the environment names of SPEC §2."""

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cobro.domain.payment import Timings
from cobro.payload_keys import parse_keys
from cobro.webhook_urls import UrlPolicy

# Test values shared by cobro and the simulator in simulator mode. They are not secrets:
# they only ever authenticate traffic between two local processes.
SIMULATOR_STRIPE_API_KEY = "sk_test_cobro_simulator"
SIMULATOR_STRIPE_WEBHOOK_SECRET = "whsec_cobro_simulator_stripe"  # noqa: S105
SIMULATOR_CONEKTA_API_KEY = "key_cobro_simulator_conekta"
SIMULATOR_STP_EMPRESA = "COBRO"
SIMULATOR_STP_CLABE_PREFIX = "4321"
SIMULATOR_STP_WEBHOOK_USER = "stp_cobro_simulator"
SIMULATOR_STP_WEBHOOK_PASSWORD = "stp_simulator_password"  # noqa: S105
SIMULATOR_STP_ALLOWED_IPS = "127.0.0.1"
SIMULATOR_MOONPAY_API_KEY = "sk_test_cobro_simulator_moonpay"
SIMULATOR_MOONPAY_WEBHOOK_KEY = "wk_test_cobro_simulator_moonpay"
SIMULATOR_SECRET_KEY = "Y29icm8tZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ="  # noqa: S105 (dev only)

STRIPE_LIVE_BASE_URL = "https://api.stripe.com"
CONEKTA_LIVE_BASE_URL = "https://api.conekta.io"
# STP's SPEI web services (registraOrden) and its "efws" query services (stpmex-python).
STP_LIVE_BASE_URL = "https://prod.stpmex.com/speiws/rest"
STP_LIVE_EFWS_URL = "https://prod.stpmex.com"
MOONPAY_LIVE_BASE_URL = "https://api.moonpay.com"


class Settings(BaseSettings):
    # hide_input_in_errors: a configuration error must not print the secrets it was given.
    model_config = SettingsConfigDict(
        env_prefix="", case_sensitive=False, extra="ignore", hide_input_in_errors=True
    )

    cobro_api_port: int = 8000
    cobro_sim_port: int = 8010
    # The worker's Prometheus endpoint (Temporal SDK + business metrics), on COBRO_BIND_HOST.
    cobro_worker_metrics_port: int = 8020
    # `make run`'s Prometheus (Debian's package), scraping every process above.
    cobro_prometheus_port: int = 9090
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    # The local Temporal dev server's own Prometheus endpoint (`--metrics-port`).
    temporal_metrics_port: int = 8234
    # How cobro reaches Temporal is the Temporal CLI's own configuration (cobro/temporal_config.py:
    # these two, TEMPORAL_API_KEY, TEMPORAL_TLS_*, TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE). Unset:
    # the config file's profile, else the dev server on TEMPORAL_PORT, namespace "default".
    temporal_address: str | None = None
    temporal_namespace: str | None = None
    # May hold the database password: a secret.
    database_url: SecretStr = SecretStr("")
    cobro_data_dir: Path = Path(".data")
    cobro_demo_api_key: SecretStr = SecretStr("sk_test_demo")
    cobro_webhook_base_url: str | None = None
    cobro_psp_mode: Literal["simulator", "live"] = "simulator"
    # Interface the API and simulator listen on; containers set 0.0.0.0.
    cobro_bind_host: str = "127.0.0.1"
    # Load balancers whose X-Forwarded-For the API believes (addresses or networks, comma-
    # separated): behind one, STP_ALLOWED_IPS must see the PSP's address, not the balancer's.
    cobro_trusted_proxies: str = "127.0.0.1,::1"
    # Where cobro reaches the simulator when it is not on this host (docker compose:
    # http://simulator:8010); unset means http://127.0.0.1:$COBRO_SIM_PORT.
    cobro_simulator_url: str | None = None
    # `cobro dev`: how many API and worker processes it runs (APIs on COBRO_API_PORT, +1, ...).
    cobro_dev_apis: int = Field(default=1, ge=1, le=16)
    cobro_dev_workers: int = Field(default=1, ge=1, le=16)

    # PSPs cobro may route to (comma-separated); live mode needs the secrets of each. Secrets
    # are SecretStr (hidden from repr and logs; read with .get_secret_value()), "" when unset.
    cobro_psps: str = "stripe,conekta,stp,moonpay"
    stripe_api_key: SecretStr = SecretStr("")
    stripe_webhook_secret: SecretStr = SecretStr("")
    conekta_api_key: SecretStr = SecretStr("")
    # PEM public key from Conekta's POST /webhook_keys; in simulator mode fetched from the
    # simulator on first use.
    conekta_webhook_public_key: str | None = None
    # STP (direct SPEI): the company's alias at STP ("empresa"), the 4-digit prefix STP gave it
    # for its CLABEs, and the beneficiary name payers see.
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
    # MoonPay (crypto on-ramp): the secret API key (`sk_...`, sent as `Authorization: Api-Key`)
    # and the webhook API key that `Moonpay-Signature-V2` is an HMAC with.
    moonpay_api_key: SecretStr = SecretStr("")
    moonpay_webhook_key: SecretStr = SecretStr("")

    # Pool sized for the API's concurrency on a small machine; see README "Performance".
    db_pool_size: int = Field(default=20, alias="COBRO_DB_POOL_SIZE")
    # How long a PSP confirmation may arrive after expiry and still count (OXXO/SPEI are late).
    expiry_grace_seconds: int = Field(default=3600, alias="COBRO_EXPIRY_GRACE_SECONDS")
    # With no PSP event for this long, the workflow asks the PSP (a webhook may be lost); the
    # interval doubles up to COBRO_POLL_MAX_SECONDS.
    poll_after_seconds: int = Field(default=3600, alias="COBRO_POLL_AFTER_SECONDS")
    poll_max_seconds: int = Field(default=6 * 3600, alias="COBRO_POLL_MAX_SECONDS")
    # How long a payment's workflow stays open for refunds after success, and for late money
    # after expiry or cancellation.
    refund_window_seconds: int = Field(default=180 * 86_400, alias="COBRO_REFUND_WINDOW_SECONDS")
    late_window_seconds: int = Field(default=7 * 86_400, alias="COBRO_LATE_WINDOW_SECONDS")
    quiet_before_continuing_seconds: int = Field(
        default=3600, alias="COBRO_QUIET_BEFORE_CONTINUING_SECONDS"
    )
    # Encrypts merchant webhook secrets at rest (a Fernet key: 32 url-safe base64 bytes).
    # Simulator mode has a fixed development key; live mode requires one.
    cobro_secret_key: SecretStr = SecretStr("")
    # Outgoing merchant webhooks: first retry after this long, doubling, for this long in all.
    webhook_retry_initial_seconds: float = Field(
        default=5, alias="COBRO_WEBHOOK_RETRY_INITIAL_SECONDS"
    )
    webhook_retry_for_seconds: int = Field(
        default=3 * 86_400, alias="COBRO_WEBHOOK_RETRY_FOR_SECONDS"
    )
    # May merchant webhook URLs point at private and loopback addresses (never link-local,
    # multicast, ...)? Unset: yes outside live mode (the tests' receiver is on 127.0.0.1).
    webhook_allow_private: bool | None = Field(default=None, alias="COBRO_WEBHOOK_ALLOW_PRIVATE")
    # How long a PSP that is down is retried before the payment fails over to the next one.
    failover_after_seconds: int = Field(default=60, alias="COBRO_FAILOVER_AFTER_SECONDS")
    # Expiry checks of payments due at one moment are spread over this many seconds after
    # their deadline (expiry + grace), so a herd of vouchers does not hit the PSP at once.
    expiry_spread_seconds: int = Field(default=300, ge=0, alias="COBRO_EXPIRY_SPREAD_SECONDS")
    # Calls per second each PSP's status checks and voids may make, for all workers together
    # (Temporal's task-queue activity rate limit), e.g. "stripe=80,conekta=20"; a PSP left out
    # is not limited. Stripe allows 100 requests/s in live mode, creates (not limited here:
    # they are local activities) included, so 80 leaves room for them.
    cobro_psp_rate_limits: str = "stripe=80"
    # The worker's sticky cache of running payment workflows, and the share of its workflow-task
    # pollers on the shared queue (new payments' first tasks, and workflows no longer cached)
    # against its sticky queue (the Temporal SDK's defaults: 1000 and 0.2).
    worker_max_cached_workflows: int = Field(
        default=1000, ge=0, alias="COBRO_WORKER_MAX_CACHED_WORKFLOWS"
    )
    worker_nonsticky_poll_ratio: float = Field(
        default=0.2, gt=0, le=1, alias="COBRO_WORKER_NONSTICKY_POLL_RATIO"
    )
    # How long a PSP may answer 429 to a charge creation before the payment fails over.
    rate_limited_for_seconds: int = Field(default=600, ge=1, alias="COBRO_RATE_LIMITED_FOR_SECONDS")
    # When every PSP was unavailable: how long the payment waits in `pending` for ops to retry.
    create_retry_window_seconds: int = Field(
        default=3600, ge=0, alias="COBRO_CREATE_RETRY_WINDOW_SECONDS"
    )
    # Temporal payload encryption (cobro/payload_keys.py): "id:base64key,..." of 32-byte keys,
    # oldest first; the last encrypts, all decrypt. Unset outside live mode: a dev key kept in
    # $COBRO_DATA_DIR/payload-keys. Required in live mode.
    cobro_payload_keys: SecretStr = SecretStr("")
    # `cobro codec-server` (Temporal's remote codec protocol for the Web UI and CLI): its port,
    # the bearer token it requires (unset outside live mode: $COBRO_DATA_DIR/codec-token), and
    # the browser origins allowed to call it (unset: the dev server's Web UI on
    # TEMPORAL_UI_PORT, as localhost and 127.0.0.1).
    cobro_codec_port: int = 8081
    cobro_codec_token: SecretStr = SecretStr("")
    cobro_codec_cors_origins: str | None = None

    @model_validator(mode="after")
    def _secrets(self) -> "Settings":
        unknown = self.enabled_psps - {"stripe", "conekta", "stp", "moonpay"}
        try:
            rates = self.psp_rate_limits
        except ValueError:
            rates = {"": 0}
        if (
            set(rates) - {"stripe", "conekta", "stp", "moonpay"}
            or min(rates.values(), default=1) <= 0
        ):
            raise ValueError(
                "COBRO_PSP_RATE_LIMITS must read like stripe=80,conekta=20 (known PSPs, calls "
                f"per second > 0); got {self.cobro_psp_rate_limits!r}"
            )
        if unknown:
            raise ValueError(f"COBRO_PSPS names unknown PSPs {sorted(unknown)}")
        if self.cobro_psp_mode == "simulator":
            self.stripe_api_key = self.stripe_api_key or SecretStr(SIMULATOR_STRIPE_API_KEY)
            self.stripe_webhook_secret = self.stripe_webhook_secret or SecretStr(
                SIMULATOR_STRIPE_WEBHOOK_SECRET
            )
            self.conekta_api_key = self.conekta_api_key or SecretStr(SIMULATOR_CONEKTA_API_KEY)
            self.stp_empresa = self.stp_empresa or SIMULATOR_STP_EMPRESA
            self.stp_clabe_prefix = self.stp_clabe_prefix or SIMULATOR_STP_CLABE_PREFIX
            self.stp_webhook_user = self.stp_webhook_user or SIMULATOR_STP_WEBHOOK_USER
            self.stp_webhook_password = self.stp_webhook_password or SecretStr(
                SIMULATOR_STP_WEBHOOK_PASSWORD
            )
            self.stp_allowed_ips = self.stp_allowed_ips or SIMULATOR_STP_ALLOWED_IPS
            self.moonpay_api_key = self.moonpay_api_key or SecretStr(SIMULATOR_MOONPAY_API_KEY)
            self.moonpay_webhook_key = self.moonpay_webhook_key or SecretStr(
                SIMULATOR_MOONPAY_WEBHOOK_KEY
            )
            self.cobro_secret_key = self.cobro_secret_key or SecretStr(SIMULATOR_SECRET_KEY)
        else:
            required: dict[str, list[tuple[str, SecretStr | str | None]]] = {
                "stripe": [
                    ("STRIPE_API_KEY", self.stripe_api_key),
                    ("STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
                ],
                "conekta": [
                    ("CONEKTA_API_KEY", self.conekta_api_key),
                    ("CONEKTA_WEBHOOK_PUBLIC_KEY", self.conekta_webhook_public_key),
                ],
                "stp": [
                    ("STP_EMPRESA", self.stp_empresa),
                    ("STP_CLABE_PREFIX", self.stp_clabe_prefix),
                    ("STP_WEBHOOK_USER", self.stp_webhook_user),
                    ("STP_WEBHOOK_PASSWORD", self.stp_webhook_password),
                    ("STP_ALLOWED_IPS", self.stp_allowed_ips),
                ],
                "moonpay": [
                    ("MOONPAY_API_KEY", self.moonpay_api_key),
                    ("MOONPAY_WEBHOOK_KEY", self.moonpay_webhook_key),
                ],
            }
            missing = [
                name
                for psp in sorted(self.enabled_psps)
                for name, value in required[psp]
                if not value
            ] + ([] if self.cobro_secret_key else ["COBRO_SECRET_KEY"])
            missing += [] if self.cobro_payload_keys else ["COBRO_PAYLOAD_KEYS"]
            if missing:
                raise ValueError(
                    f"COBRO_PSP_MODE=live needs {', '.join(missing)}; set it in the environment"
                )
        if self.cobro_payload_keys:
            parse_keys(self.cobro_payload_keys.get_secret_value())  # ValueError names the entry
        if self.stp_clabe_prefix is not None and not (
            len(self.stp_clabe_prefix) == 4 and self.stp_clabe_prefix.isdigit()
        ):
            raise ValueError(f"STP_CLABE_PREFIX must be 4 digits, not {self.stp_clabe_prefix!r}")
        for entry in (self.stp_allowed_ips or "").split(","):
            if entry.strip():
                try:
                    ipaddress.ip_network(entry.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"STP_ALLOWED_IPS: {entry.strip()!r} is not an address or network"
                    ) from None
        return self

    def timings(self) -> Timings:
        """The waits each new payment's workflow is started with."""
        return Timings(
            grace=self.expiry_grace_seconds,
            poll_after=self.poll_after_seconds,
            poll_max_interval=self.poll_max_seconds,
            refund_window=self.refund_window_seconds,
            late_window=self.late_window_seconds,
            failover_after=self.failover_after_seconds,
            rate_limited_for=self.rate_limited_for_seconds,
            expiry_spread=self.expiry_spread_seconds,
            create_retry_window=self.create_retry_window_seconds,
            quiet_before_continuing=self.quiet_before_continuing_seconds,
        )

    @property
    def psp_rate_limits(self) -> dict[str, float]:
        """COBRO_PSP_RATE_LIMITS as {psp: calls per second}."""
        limits: dict[str, float] = {}
        for item in filter(None, (i.strip() for i in self.cobro_psp_rate_limits.split(","))):
            psp, _, rate = item.partition("=")
            limits[psp.strip()] = float(rate)
        return limits

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    @property
    def codec_cors_origins(self) -> list[str]:
        if self.cobro_codec_cors_origins:
            origins = self.cobro_codec_cors_origins.split(",")
            return [o.strip().rstrip("/") for o in origins if o.strip()]
        return [
            f"http://localhost:{self.temporal_ui_port}",
            f"http://127.0.0.1:{self.temporal_ui_port}",
        ]

    @property
    def webhook_url_policy(self) -> UrlPolicy:
        """What merchant webhook URLs may be (cobro/webhook_urls.py): https only in live mode."""
        live = self.cobro_psp_mode == "live"
        allow = self.webhook_allow_private
        return UrlPolicy(https_only=live, allow_private=not live if allow is None else allow)

    @property
    def webhook_base_url(self) -> str:
        return self.cobro_webhook_base_url or f"http://127.0.0.1:{self.cobro_api_port}"

    @property
    def simulator_url(self) -> str:
        if self.cobro_simulator_url:
            return self.cobro_simulator_url.rstrip("/")
        return f"http://127.0.0.1:{self.cobro_sim_port}"

    @property
    def enabled_psps(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.cobro_psps.split(",") if p.strip())

    @property
    def stp_base_url(self) -> str:
        if self.cobro_psp_mode == "live":
            return STP_LIVE_BASE_URL
        return f"{self.simulator_url}/stp"

    @property
    def stp_efws_url(self) -> str:
        if self.cobro_psp_mode == "live":
            return STP_LIVE_EFWS_URL
        return f"{self.simulator_url}/stp"

    @property
    def moonpay_base_url(self) -> str:
        if self.cobro_psp_mode == "live":
            return MOONPAY_LIVE_BASE_URL
        return f"{self.simulator_url}/moonpay"

    @property
    def conekta_base_url(self) -> str:
        if self.cobro_psp_mode == "live":
            return CONEKTA_LIVE_BASE_URL
        return f"{self.simulator_url}/conekta"

    @property
    def stripe_base_url(self) -> str:
        if self.cobro_psp_mode == "live":
            return STRIPE_LIVE_BASE_URL
        return f"{self.simulator_url}/stripe"

    @property
    def embedded_postgres_dir(self) -> Path:
        return (self.cobro_data_dir / "postgres").resolve()

    @property
    def db_url(self) -> str:
        """DATABASE_URL, or the embedded server's unix socket in the data dir (no TCP port)."""
        if self.database_url:
            return self.database_url.get_secret_value()
        return f"postgresql+asyncpg://postgres@/cobro?host={self.embedded_postgres_dir}"

    @property
    def temporal_db_file(self) -> Path:
        return (self.cobro_data_dir / "temporal.db").resolve()


def get_settings() -> Settings:
    return Settings()
