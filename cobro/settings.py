"""All configuration, read from the environment names of SPEC §2."""

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cobro.domain.payment import Timings

# Test values shared by cobro and the simulator in simulator mode. They are not secrets:
# they only ever authenticate traffic between two local processes.
SIMULATOR_STRIPE_API_KEY = "sk_test_cobro_simulator"
SIMULATOR_STRIPE_WEBHOOK_SECRET = "whsec_cobro_simulator_stripe"  # noqa: S105
SIMULATOR_CONEKTA_API_KEY = "key_cobro_simulator_conekta"

STRIPE_LIVE_BASE_URL = "https://api.stripe.com"
CONEKTA_LIVE_BASE_URL = "https://api.conekta.io"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    cobro_api_port: int = 8000
    cobro_sim_port: int = 8010
    temporal_port: int = 7233
    temporal_ui_port: int = 8233
    temporal_address: str | None = None
    temporal_namespace: str = "default"
    database_url: str | None = None
    cobro_data_dir: Path = Path(".data")
    cobro_demo_api_key: str = "sk_test_demo"
    cobro_webhook_base_url: str | None = None
    cobro_psp_mode: Literal["simulator", "live"] = "simulator"
    # Interface the API and simulator listen on; containers set 0.0.0.0.
    cobro_bind_host: str = "127.0.0.1"
    # Where cobro reaches the simulator when it is not on this host (docker compose:
    # http://simulator:8010); unset means http://127.0.0.1:$COBRO_SIM_PORT.
    cobro_simulator_url: str | None = None

    # PSPs cobro may route to (comma-separated); live mode needs the secrets of each.
    cobro_psps: str = "stripe,conekta"
    stripe_api_key: str | None = None
    stripe_webhook_secret: str | None = None
    conekta_api_key: str | None = None
    # PEM public key from Conekta's POST /webhook_keys; in simulator mode fetched from the
    # simulator on first use.
    conekta_webhook_public_key: str | None = None

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
    # How long a PSP that is down is retried before the payment fails over to the next one.
    failover_after_seconds: int = Field(default=60, alias="COBRO_FAILOVER_AFTER_SECONDS")

    @model_validator(mode="after")
    def _secrets(self) -> "Settings":
        unknown = self.enabled_psps - {"stripe", "conekta"}
        if unknown:
            raise ValueError(f"COBRO_PSPS names unknown PSPs {sorted(unknown)}")
        if self.cobro_psp_mode == "simulator":
            self.stripe_api_key = self.stripe_api_key or SIMULATOR_STRIPE_API_KEY
            self.stripe_webhook_secret = (
                self.stripe_webhook_secret or SIMULATOR_STRIPE_WEBHOOK_SECRET
            )
            self.conekta_api_key = self.conekta_api_key or SIMULATOR_CONEKTA_API_KEY
        else:
            required = {
                "stripe": [
                    ("STRIPE_API_KEY", self.stripe_api_key),
                    ("STRIPE_WEBHOOK_SECRET", self.stripe_webhook_secret),
                ],
                "conekta": [
                    ("CONEKTA_API_KEY", self.conekta_api_key),
                    ("CONEKTA_WEBHOOK_PUBLIC_KEY", self.conekta_webhook_public_key),
                ],
            }
            missing = [
                name
                for psp in sorted(self.enabled_psps)
                for name, value in required[psp]
                if not value
            ]
            if missing:
                raise ValueError(
                    f"COBRO_PSP_MODE=live needs {', '.join(missing)}; set it in the environment"
                )
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
        )

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

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
            return self.database_url
        return f"postgresql+asyncpg://postgres@/cobro?host={self.embedded_postgres_dir}"

    @property
    def temporal_db_file(self) -> Path:
        return (self.cobro_data_dir / "temporal.db").resolve()


def get_settings() -> Settings:
    return Settings()
