"""`cobro dev` (what `make run` runs): PostgreSQL, Temporal + Web UI, migrations, worker, API and
simulator as separate processes, with a demo merchant. Ctrl-C stops them all; data stays in
COBRO_DATA_DIR, so the next run resumes where this one stopped."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from types import FrameType

from cobro import search_attributes
from cobro.data_converter import payload_key_ring
from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.devstack import postgres, prometheus, temporal
from cobro.devstack.supervisor import Child, Supervisor, say
from cobro.payload_keys import TOKEN_FILE, codec_token
from cobro.reconciliation_schedule import ensure_schedule
from cobro.settings import Settings
from cobro.temporal_client import connect


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check_ports(settings: Settings) -> None:
    ports = {
        "COBRO_API_PORT": settings.cobro_api_port,
        "COBRO_SIM_PORT": settings.cobro_sim_port,
        "COBRO_CODEC_PORT": settings.cobro_codec_port,
        "COBRO_WORKER_METRICS_PORT": settings.cobro_worker_metrics_port,
    }
    if not settings.temporal_address:
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
    # On an existing dev-server database, start-dev's --search-attribute flags are not applied
    # again, so attributes added since are registered here.
    async def register() -> None:
        client = await connect(settings)
        await search_attributes.register(client, settings.temporal_namespace)
        await ensure_schedule(client)

    asyncio.run(register())
    temporal.set_retention(settings.temporal_target, settings.temporal_namespace)


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

    if not settings.temporal_address:
        argv = temporal.server_command(
            settings.temporal_db_file,
            settings.temporal_port,
            settings.temporal_ui_port,
            settings.temporal_namespace,
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
        "registering search attributes, the reconciliation schedule, 30-day retention",
        lambda: _setup_namespace(settings),
    )

    # Migrations are their own step and their own process, never part of app start-up.
    def migrate() -> None:
        if subprocess.run([*cobro, "migrate"], env=env, check=False).returncode != 0:
            raise RuntimeError("`cobro migrate` failed; its output above says why")

    _step("running migrations (cobro migrate)", migrate)
    merchant_id = asyncio.run(_ensure_demo_merchant(settings))

    worker = sup.start(Child("worker", [*cobro, "worker"], env))
    sim = sup.start(Child("simulator", [*cobro, "simulator"], env))
    api = sup.start(Child("api", [*cobro, "api"], env))
    codec = sup.start(Child("codec-server", [*cobro, "codec-server"], env))
    _step(
        "starting codec server",
        lambda: _wait_http(f"http://127.0.0.1:{settings.cobro_codec_port}/healthz", sup, codec),
    )
    _step(
        "starting simulator", lambda: _wait_http(f"{settings.simulator_url}/_sim/charges", sup, sim)
    )
    _step(
        "starting API",
        lambda: _wait_http(f"http://127.0.0.1:{settings.cobro_api_port}/openapi.json", sup, api),
    )
    sup.check(worker)
    _start_prometheus(settings, sup, env)
    return merchant_id


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
        "cobro-api": [f"127.0.0.1:{settings.cobro_api_port}"],
        "cobro-worker": [f"127.0.0.1:{settings.cobro_worker_metrics_port}"],
        "temporal": []
        if settings.temporal_address
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
    metrics = (
        f"http://localhost:{settings.cobro_prometheus_port}        (alerts: /alerts)"
        if with_prometheus
        else "(not running: see above)"
    )
    demo_key = settings.cobro_demo_api_key.get_secret_value()  # a demo key, shown on purpose
    ui = (
        f"http://localhost:{settings.temporal_ui_port}"
        if not settings.temporal_address
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

    Merchant API    {api}        (OpenAPI: {api}/docs)
    Temporal Web UI {ui}
    PSP simulator   http://localhost:{settings.cobro_sim_port}
    Codec server    http://localhost:{settings.cobro_codec_port}  (token: {token_file})
    Prometheus      {metrics}
    Metrics         {api}/metrics, worker http://localhost:{settings.cobro_worker_metrics_port}/metrics
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
