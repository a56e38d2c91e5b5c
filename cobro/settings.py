"""All configuration, read from the environment names of SPEC §2."""

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cobro.domain.payment import Timings
from cobro.domain.rate_limits import Kind, Limit
from cobro.payload_keys import parse_keys
from cobro.psp.connectors import BY_NAME, CONNECTORS
from cobro.webhook_urls import UrlPolicy

# Test values shared by cobro and the simulator in simulator mode (each PSP's are in its
# connector's config.py). Not a secret: it only ever protects local development data.
SIMULATOR_SECRET_KEY = "Y29icm8tZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ="  # noqa: S105 (dev only)


class CoreSettings(BaseSettings):
    """Everything but the PSPs' own sections (cobro/psp/<name>/config.py)."""

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

    # PSPs cobro may route to (comma-separated); live mode needs the secrets of each (their
    # env vars are in each connector's settings section). Secrets are SecretStr (hidden from
    # repr and logs; read with .get_secret_value()), "" when unset.
    cobro_psps: str = ",".join(c.name for c in CONNECTORS)

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
    # Each merchant's API rate limits (cobro/domain/rate_limits.py), for merchants without
    # their own (`cobro merchant limits`): creates (payments, refunds) and every other request,
    # each a rate per second and the burst a merchant may send at once. Held across API processes.
    create_rate_per_s: float = Field(default=25, gt=0, alias="COBRO_CREATE_RATE_PER_S")
    create_burst: int = Field(default=50, ge=1, alias="COBRO_CREATE_BURST")
    read_rate_per_s: float = Field(default=100, gt=0, alias="COBRO_READ_RATE_PER_S")
    read_burst: int = Field(default=200, ge=1, alias="COBRO_READ_BURST")
    # PSP webhook receivers, per PSP and API process (api/webhook_admission.py): events stored
    # at once (each holds a pooled connection: keep 4 x this under 2 x COBRO_DB_POOL_SIZE), and
    # how many more may wait up to 5 s for a turn (a burst waits; a flood gets 503 and retries).
    webhook_concurrency: int = Field(default=8, ge=1, alias="COBRO_WEBHOOK_CONCURRENCY")
    webhook_queue: int = Field(default=256, ge=0, alias="COBRO_WEBHOOK_QUEUE")
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
    # Workflow tasks one worker runs at once (the SDK's default: 100). A task taken but not
    # finished within Temporal's 10 s workflow-task timeout is done again: under a backlog,
    # fewer at once leaves the rest waiting in Temporal's queue instead.
    worker_max_concurrent_workflow_tasks: int = Field(
        default=100, ge=2, alias="COBRO_WORKER_MAX_CONCURRENT_WORKFLOW_TASKS"
    )
    # Poll Temporal for tasks with as many open polls as its backlog calls for (the SDK's
    # autoscaling pollers, on the server's feedback) instead of a fixed 5 per queue: a task that
    # finds no open poll waits in Temporal's backlog until a poll reads it back.
    worker_poller_autoscaling: bool = Field(default=False, alias="COBRO_WORKER_POLLER_AUTOSCALING")
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
    def _secrets(self) -> "CoreSettings":
        unknown = self.enabled_psps - set(BY_NAME)
        _ = self.psp_rate_limits  # refuses a malformed COBRO_PSP_RATE_LIMITS, saying why
        if unknown:
            raise ValueError(f"COBRO_PSPS names unknown PSPs {sorted(unknown)}")
        if self.cobro_psp_mode == "simulator":
            for connector in CONNECTORS:
                for field, default in connector.settings.SIMULATOR_DEFAULTS.items():
                    if not getattr(self, field):
                        setattr(self, field, default)
            self.cobro_secret_key = self.cobro_secret_key or SecretStr(SIMULATOR_SECRET_KEY)
        else:
            missing = [
                name
                for psp in sorted(self.enabled_psps)
                for name in BY_NAME[psp].settings.LIVE_REQUIRED
                if not getattr(self, name.lower())
            ] + ([] if self.cobro_secret_key else ["COBRO_SECRET_KEY"])
            missing += [] if self.cobro_payload_keys else ["COBRO_PAYLOAD_KEYS"]
            if missing:
                raise ValueError(
                    f"COBRO_PSP_MODE=live needs {', '.join(missing)}; set it in the environment"
                )
        if self.cobro_payload_keys:
            parse_keys(self.cobro_payload_keys.get_secret_value())  # ValueError names the entry
        for connector in CONNECTORS:
            connector.settings.check(self)
        return self

    def rate_limit(self, kind: Kind) -> Limit:
        """The default limit of `kind` (a merchant's own overrides it)."""
        if kind == "create":
            return Limit(self.create_rate_per_s, self.create_burst)
        return Limit(self.read_rate_per_s, self.read_burst)

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
        """COBRO_PSP_RATE_LIMITS as {psp: calls per second}; ValueError unless every item is a
        known PSP, named once, with a finite rate above 0."""
        limits: dict[str, float] = {}
        for item in filter(None, (i.strip() for i in self.cobro_psp_rate_limits.split(","))):
            psp, _, rate = (part.strip() for part in item.partition("="))
            try:
                per_s = float(rate)
            except ValueError:
                per_s = math.nan
            if psp not in BY_NAME or psp in limits or not 0 < per_s < math.inf:
                raise ValueError(
                    "COBRO_PSP_RATE_LIMITS must read like stripe=80,conekta=20 (known PSPs, each "
                    f"once, calls per second > 0); got {self.cobro_psp_rate_limits!r}"
                )
            limits[psp] = per_s
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

    def psp_url(self, live_url: str, simulator_path: str) -> str:
        """A PSP's base URL: `live_url` in live mode, else the simulator's."""
        if self.cobro_psp_mode == "live":
            return live_url
        return f"{self.simulator_url}/{simulator_path}"

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


class Settings(CoreSettings, *(c.settings for c in CONNECTORS)):  # type: ignore[misc]
    """CoreSettings and every registered connector's section (`settings.stripe_api_key`)."""


def get_settings() -> Settings:
    return Settings()
