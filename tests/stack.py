"""Real servers for tests: embedded PostgreSQL, the Temporal dev server and cobro's own processes,
each on free ports in a temporary folder (never `.data/`)."""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import httpx

from cobro.db.migrate import upgrade
from cobro.devstack import postgres, temporal
from cobro.devstack.supervisor import replica_name, replica_role


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Servers:
    """PostgreSQL + Temporal, shared by every test in the session."""

    root: Path
    database_url: str
    temporal_address: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    temporal_ui_url: str = ""  # the dev server's Web UI (tests/e2e/test_web_ui.py)
    # The codec server the Web UI decodes with: CobroProcesses starts it on this port.
    codec_port: int = 0
    codec_token: str = ""
    temporal_metrics_url: str = ""  # the dev server's own /metrics (tests/e2e/test_metrics.py)

    @classmethod
    def start(cls, root: Path) -> "Servers":
        _forget_the_shells_temporal_config()
        pgdata = (root / "postgres").resolve()
        argv, user = postgres.server_command(pgdata)
        pg = subprocess.Popen(
            argv, user=user, stdout=_log(root, "postgres"), stderr=subprocess.STDOUT
        )
        postgres.wait_ready(pgdata)
        postgres.ensure_database(pgdata)
        database_url = f"postgresql+asyncpg://postgres@/cobro?host={pgdata}"
        upgrade(database_url)

        port, ui_port, codec_port = free_port(), free_port(), free_port()
        metrics_port = free_port()
        codec_token = secrets.token_urlsafe(24)
        address = f"127.0.0.1:{port}"
        codec_endpoint = f"http://127.0.0.1:{codec_port}/token/{codec_token}"
        tmp = subprocess.Popen(
            temporal.server_command(
                root / "temporal.db",
                port,
                ui_port,
                "default",
                ui_codec_endpoint=codec_endpoint,
                metrics_port=metrics_port,
            ),
            stdout=_log(root, "temporal"),
            stderr=subprocess.STDOUT,
        )
        temporal.wait_ready(address)
        ui_url = f"http://127.0.0.1:{ui_port}"
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        return cls(
            root, database_url, address, [pg, tmp], ui_url, codec_port, codec_token, metrics_url
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process, signal.SIGINT)


def _forget_the_shells_temporal_config() -> None:
    """cobro reads TEMPORAL_* and the Temporal CLI's config file as the CLI does
    (cobro/temporal_config.py); a stack reaches only the servers it starts, whatever the shell
    that runs it points at. Its processes inherit this environment."""
    for name in [name for name in os.environ if name.startswith("TEMPORAL_")]:
        del os.environ[name]
    os.environ["TEMPORAL_CONFIG_FILE"] = os.devnull


def _log(root: Path, name: str) -> BinaryIO:
    return (root / f"{name}.log").open("ab")


@dataclass
class CobroProcesses:
    """`cobro api`, `cobro worker`, `cobro simulator` and `cobro codec-server` as real OS
    processes, each logging to `{root}/{name}.log` (tests/e2e/test_logs.py reads them); with
    `apis` or `workers` > 1, more of each (named api-2, worker-2, ...; each API on its own port,
    each worker with its own metrics port)."""

    root: Path
    env: dict[str, str]
    api_url: str
    sim_url: str
    codec_url: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    # Per process name, what its environment adds to `env` (an API's port).
    own_env: dict[str, dict[str, str]] = field(default_factory=dict)
    api_urls: list[str] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        servers: Servers,
        overrides: Mapping[str, str] | None = None,
        apis: int = 1,
        workers: int = 1,
        only_apis: bool = False,
    ) -> "CobroProcesses":
        """`overrides`: settings that differ from the test stack's (bench/scale.py).
        `only_apis`: no simulator and no codec server either (with workers=0: more API
        processes for a stack whose other processes already run)."""
        api_port, sim_port, worker_metrics_port = free_port(), free_port(), free_port()
        env = {
            **os.environ,
            "DATABASE_URL": servers.database_url,
            "TEMPORAL_ADDRESS": servers.temporal_address,
            "COBRO_API_PORT": str(api_port),
            "COBRO_SIM_PORT": str(sim_port),
            "COBRO_WORKER_METRICS_PORT": str(worker_metrics_port),
            "COBRO_DATA_DIR": str(servers.root / "data"),
            "PYTHONUNBUFFERED": "1",
            # Seconds instead of hours, so expiry, grace, polling and late money happen in real
            # time within a test (the time-skipping tests cover the production defaults).
            "COBRO_EXPIRY_GRACE_SECONDS": "2",
            "COBRO_POLL_AFTER_SECONDS": "4",
            "COBRO_POLL_MAX_SECONDS": "8",
            "COBRO_LATE_WINDOW_SECONDS": "300",
            "COBRO_FAILOVER_AFTER_SECONDS": "3",
            # A PSP answering only 429 is given up on (failed over from) after this long.
            "COBRO_RATE_LIMITED_FOR_SECONDS": "40",
            # A payment no PSP would create fails at once (the ops retry has workflow tests).
            "COBRO_CREATE_RETRY_WINDOW_SECONDS": "0",
            "COBRO_WEBHOOK_RETRY_INITIAL_SECONDS": "0.5",
            # The codec server the dev server's Web UI was pointed at (Servers.start).
            "COBRO_CODEC_PORT": str(servers.codec_port),
            "COBRO_CODEC_TOKEN": servers.codec_token,
            "COBRO_CODEC_CORS_ORIGINS": servers.temporal_ui_url,
            **(overrides or {}),
        }
        stack = cls(
            servers.root,
            env,
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{sim_port}",
            f"http://127.0.0.1:{env['COBRO_CODEC_PORT']}",
        )
        api_ports = [api_port] + [free_port() for _ in range(apis - 1)]
        stack.api_urls = [f"http://127.0.0.1:{port}" for port in api_ports]
        names = [replica_name("worker", i) for i in range(workers)]
        names += [] if only_apis else ["simulator"]
        for i, port in enumerate(api_ports):
            names.append(replica_name("api", i))
            stack.own_env[names[-1]] = {"COBRO_API_PORT": str(port)}
        for i in range(1, workers):  # workers on one host: each its own metrics port
            stack.own_env[replica_name("worker", i)] = {
                "COBRO_WORKER_METRICS_PORT": str(free_port())
            }
        for name in names if only_apis else [*names, "codec-server"]:
            stack.start_role(name)
        if not only_apis:
            stack.wait_http(f"{stack.sim_url}/_sim/charges")
        for url in stack.api_urls:
            stack.wait_http(f"{url}/healthz")
        if not only_apis:
            stack.wait_http(f"{stack.codec_url}/healthz")
        return stack

    @property
    def worker_metrics_url(self) -> str:
        return self.worker_metrics_urls[0]

    @property
    def worker_metrics_urls(self) -> list[str]:
        """Every worker's metrics (worker, worker-2, ...)."""
        ports = [self.env["COBRO_WORKER_METRICS_PORT"]] + [
            env["COBRO_WORKER_METRICS_PORT"]
            for env in self.own_env.values()
            if "COBRO_WORKER_METRICS_PORT" in env
        ]
        return [f"http://127.0.0.1:{port}/metrics" for port in ports]

    def start_role(self, name: str) -> None:
        """Start (or start again) the process `name`: a role (api, worker, simulator,
        codec-server), or one of several of a role (api-2)."""
        self.procs[name] = subprocess.Popen(
            [sys.executable, "-m", "cobro.cli", replica_role(name)],
            env={**self.env, **self.own_env.get(name, {})},
            stdout=_log(self.root, name),
            stderr=subprocess.STDOUT,
        )

    def kill(self, role: str) -> None:
        stop(self.procs[role], signal.SIGKILL)

    def wait_http(self, url: str, timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for role, proc in self.procs.items():
                if proc.poll() is not None:
                    log = (self.root / f"{role}.log").read_text()[-3000:]
                    raise RuntimeError(f"cobro {role} exited with {proc.returncode}:\n{log}")
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{url} not ready in {timeout_s} s")

    def stop(self) -> None:
        for proc in self.procs.values():
            stop(proc)
