"""`cobro dev` (what `make run` runs): PostgreSQL, Temporal + Web UI, migrations, worker, API and
simulator as separate processes, with a demo merchant. Ctrl-C stops them all; data stays in
COBRO_DATA_DIR, so the next run resumes where this one stopped."""

import asyncio
import functools
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from types import FrameType

from cobro import temporal_setup
from cobro.data_converter import payload_key_ring
from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.devstack import postgres, prometheus, temporal
from cobro.devstack.supervisor import Child, Supervisor, replica_name, say
from cobro.payload_keys import TOKEN_FILE, codec_token
from cobro.settings import Settings
from cobro.temporal_client import connect
from cobro.temporal_config import connect_config, is_configured


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _api_ports(settings: Settings) -> list[int]:
    """One port per API process: COBRO_API_PORT, then the ports after it."""
    return [settings.cobro_api_port + i for i in range(settings.cobro_dev_apis)]


def _check_ports(settings: Settings) -> None:
    ports = {
        "COBRO_API_PORT": settings.cobro_api_port,
        "COBRO_SIM_PORT": settings.cobro_sim_port,
        "COBRO_CODEC_PORT": settings.cobro_codec_port,
    }
    ports |= {f"COBRO_API_PORT+{i}": port for i, port in enumerate(_api_ports(settings)) if i}
    ports |= {
        f"COBRO_WORKER_METRICS_PORT+{i}" if i else "COBRO_WORKER_METRICS_PORT": port
        for i, port in enumerate(_worker_metrics_ports(settings))
    }
    if not is_configured(settings):
        ports |= {
            "TEMPORAL_PORT": settings.temporal_port,
            "TEMPORAL_UI_PORT": settings.temporal_ui_port,
            "TEMPORAL_METRICS_PORT": settings.temporal_metrics_port,
        }
    busy = [f"{name}={port}" for name, port in ports.items() if not _port_free(port)]
    if busy:
        raise RuntimeError(
            f"port(s) already in use: {', '.join(busy)}. Stop whatever holds them "
            f"(another `make run`?) or set those variables to free ports."
        )


def _wait_http(url: str, supervisor: Supervisor, child: Child, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.check(child)
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own localhost URL)
                return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{child.name} did not answer {url} within {timeout_s:.0f} s")


def _step(label: str, action: Callable[[], None]) -> None:
    started = time.monotonic()
    print(f"[cobro] {label} ...", end="", flush=True)
    action()
    print(f" ok ({time.monotonic() - started:.1f} s)", flush=True)


async def _ensure_demo_merchant(settings: Settings) -> str:
    engine = make_engine(settings)
    async with make_sessionmaker(engine).begin() as session:
        merchant_id = await merchants_repo.ensure_merchant(
            session, "Demo merchant", settings.cobro_demo_api_key.get_secret_value()
        )
    await engine.dispose()
    return merchant_id


def _setup_namespace(settings: Settings) -> None:
    # What `cobro temporal-setup` does. On an existing dev-server database, start-dev's
    # --search-attribute flags are not applied again, so attributes added since are registered
    # here; its namespaces have 24-hour retention. (Workers create the reconciliation schedule.)
    async def setup() -> None:
        await temporal_setup.setup(await connect(settings))

    asyncio.run(setup())


def _start_stack(settings: Settings, sup: Supervisor) -> str:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cobro = [sys.executable, "-m", "cobro.cli"]
    settings.cobro_data_dir.mkdir(parents=True, exist_ok=True)
    # The payload key and the codec token: made in the data dir on the first run, reused after
    # (COBRO_PAYLOAD_KEYS / COBRO_CODEC_TOKEN replace them).
    live = settings.cobro_psp_mode == "live"
    try:
        payload_key_ring(settings)
        token = codec_token(
            settings.cobro_codec_token.get_secret_value(), settings.cobro_data_dir, live
        )
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None

    if not settings.database_url:
        pgdata = settings.embedded_postgres_dir
        argv, user = postgres.server_command(pgdata)
        pg = sup.start(Child("postgres", argv, env, user=user, stop_signal=signal.SIGINT))

        def pg_ready() -> None:
            postgres.wait_ready(pgdata)
            sup.check(pg)
            postgres.ensure_database(pgdata)

        _step(f"starting PostgreSQL (data in {pgdata})", pg_ready)

    if not is_configured(settings):
        argv = temporal.server_command(
            settings.temporal_db_file,
            settings.temporal_port,
            settings.temporal_ui_port,
            connect_config(settings)["namespace"],
            # The Web UI decodes payloads through the codec server (token in the path: the
            # dev server's UI cannot send an Authorization header; cobro/codec_server.py).
            ui_codec_endpoint=f"http://127.0.0.1:{settings.cobro_codec_port}/token/{token}",
            metrics_port=settings.temporal_metrics_port,
        )
        sup.start(Child("temporal", argv, env, stop_signal=signal.SIGINT))
        _step(
            f"starting Temporal dev server ({settings.temporal_db_file})",
            lambda: temporal.wait_ready(settings.temporal_target),
        )
    _step(
        "registering search attributes, 30-day retention (cobro temporal-setup)",
        lambda: _setup_namespace(settings),
    )

    # Migrations are their own step and their own process, never part of app start-up.
    def migrate() -> None:
        if subprocess.run([*cobro, "migrate"], env=env, check=False).returncode != 0:
            raise RuntimeError("`cobro migrate` failed; its output above says why")

    _step("running migrations (cobro migrate)", migrate)
    merchant_id = asyncio.run(_ensure_demo_merchant(settings))

    workers = [
        sup.start(
            Child(
                replica_name("worker", i),
                [*cobro, "worker"],
                {**env, "COBRO_WORKER_METRICS_PORT": str(port)},
            )
        )
        for i, port in enumerate(_worker_metrics_ports(settings))
    ]
    sim = sup.start(Child("simulator", [*cobro, "simulator"], env))
    apis = [
        (
            port,
            sup.start(
                Child(replica_name("api", i), [*cobro, "api"], {**env, "COBRO_API_PORT": str(port)})
            ),
        )
        for i, port in enumerate(_api_ports(settings))
    ]
    codec = sup.start(Child("codec-server", [*cobro, "codec-server"], env))
    _step(
        "starting codec server",
        lambda: _wait_http(f"http://127.0.0.1:{settings.cobro_codec_port}/healthz", sup, codec),
    )
    _step(
        "starting simulator", lambda: _wait_http(f"{settings.simulator_url}/_sim/charges", sup, sim)
    )
    for port, api in apis:
        ready = functools.partial(_wait_http, f"http://127.0.0.1:{port}/openapi.json", sup, api)
        _step(f"starting {api.name} on port {port}", ready)
    for worker in workers:
        sup.check(worker)
    _start_prometheus(settings, sup, env)
    return merchant_id


def _worker_metrics_ports(settings: Settings) -> list[int]:
    """Workers on one machine each need their own metrics port: COBRO_WORKER_METRICS_PORT, then
    the ports after it."""
    return [settings.cobro_worker_metrics_port + i for i in range(settings.cobro_dev_workers)]


def _start_prometheus(settings: Settings, sup: Supervisor, env: dict[str, str]) -> None:
    """Scraping every process of the stack, with the alert rules; optional (one line when not)."""
    reason = prometheus.missing_reason()
    if reason is None and not _port_free(settings.cobro_prometheus_port):
        reason = (
            f"COBRO_PROMETHEUS_PORT={settings.cobro_prometheus_port} is in use (another "
            f"Prometheus?); running without cobro's, set it to a free port"
        )
    if reason is not None:
        say(reason)
        return
    jobs = {
        "cobro-api": [f"127.0.0.1:{port}" for port in _api_ports(settings)],
        "cobro-worker": [f"127.0.0.1:{port}" for port in _worker_metrics_ports(settings)],
        "temporal": []
        if is_configured(settings)
        else [f"127.0.0.1:{settings.temporal_metrics_port}"],
    }
    data = settings.cobro_data_dir / "prometheus"
    config = prometheus.write_config(data / "prometheus.yml", jobs)
    argv = prometheus.server_command(config, data / "tsdb", settings.cobro_prometheus_port)
    child = sup.start(Child("prometheus", argv, env))
    _step(
        f"starting Prometheus (data in {data})",
        lambda: _wait_http(
            f"http://127.0.0.1:{settings.cobro_prometheus_port}/-/ready", sup, child
        ),
    )


def _banner(settings: Settings, merchant_id: str, with_prometheus: bool) -> None:
    api = f"http://localhost:{settings.cobro_api_port}"
    more_apis = "".join(f", :{port}" for port in _api_ports(settings)[1:])
    worker_metrics = ",".join(
        f" http://localhost:{port}/metrics" for port in _worker_metrics_ports(settings)
    )
    metrics = (
        f"http://localhost:{settings.cobro_prometheus_port}        (alerts: /alerts)"
        if with_prometheus
        else "(not running: see above)"
    )
    demo_key = settings.cobro_demo_api_key.get_secret_value()  # a demo key, shown on purpose
    ui = (
        f"http://localhost:{settings.temporal_ui_port}"
        if not is_configured(settings)
        else "(your Temporal's UI)"
    )
    token_file = (
        "COBRO_CODEC_TOKEN"
        if settings.cobro_codec_token
        else str(settings.cobro_data_dir / TOKEN_FILE)
    )
    print(
        f"""
  cobro is running. Ctrl-C stops everything; data stays in {settings.cobro_data_dir}/.

    Merchant API    {api}{more_apis}        (OpenAPI: {api}/docs)
    Workers         {settings.cobro_dev_workers}
    Temporal Web UI {ui}
    PSP simulator   http://localhost:{settings.cobro_sim_port}
    Codec server    http://localhost:{settings.cobro_codec_port}  (token: {token_file})
    Prometheus      {metrics}
    Metrics         {api}/metrics, worker{worker_metrics}
    Demo merchant   {merchant_id}
    Demo API key    {demo_key}

  Try: curl -s {api}/v1/payments -H 'Authorization: Bearer {demo_key}' \\
         -H 'Idempotency-Key: demo-1' -H 'Content-Type: application/json' \\
         -d '{{"amount": 25000, "currency": "MXN", "method": "oxxo",
              "customer": {{"name": "Ana"}}}}'
""",
        flush=True,
    )


def run_dev_stack(settings: Settings) -> int:
    sup = Supervisor()

    def on_signal(signum: int, _: FrameType | None) -> None:
        sup.stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        _check_ports(settings)
        merchant_id = _start_stack(settings, sup)
        if sup.stopping:
            return 130
        _banner(settings, merchant_id, any(c.name == "prometheus" for c in sup.children))
        sup.watch()
        return 0
    except (RuntimeError, TimeoutError, OSError) as exc:
        print(flush=True)
        say(f"error: {exc}")
        return 1
    finally:
        sup.stop()
        say("stopped")
