"""`cobro dev` (what `make run` runs) as a developer runs it: one real process tree, here on free
ports with its data in a temporary folder. It starts and prints its banner, takes a payment with
the demo key, stops on Ctrl-C leaving no process and no port behind, and a second run (two APIs
and two workers this time) resumes with the data intact: the same voucher can still be paid and
the payment ends `succeeded`."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.stack import free_port

ROOT = Path(__file__).resolve().parents[2]
BANNER = "cobro is running"
DEMO_KEY = "sk_test_devstack"
PORT_VARS = (
    "COBRO_API_PORT",
    "COBRO_SIM_PORT",
    "COBRO_CODEC_PORT",
    "COBRO_WORKER_METRICS_PORT",
    "COBRO_PROMETHEUS_PORT",
    "TEMPORAL_PORT",
    "TEMPORAL_UI_PORT",
    "TEMPORAL_METRICS_PORT",
)
# Would point the stack at servers other than the ones `cobro dev` starts itself.
UNSET_VARS = (
    "DATABASE_URL",
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "COBRO_WEBHOOK_BASE_URL",
    "COBRO_SIMULATOR_URL",
    "COBRO_PSP_MODE",
    # The dev key and codec token must be the ones `cobro dev` makes in its data folder.
    "COBRO_PAYLOAD_KEYS",
    "COBRO_CODEC_TOKEN",
    "COBRO_CODEC_CORS_ORIGINS",
)


@dataclass
class Dev:
    """One run of `cobro dev`. Its output is read all along (so it never blocks on a full pipe)
    and kept in `log`; `banner` is set once it says it is running."""

    process: subprocess.Popen[bytes]
    log: Path
    banner: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, env: dict[str, str], log: Path, *args: str) -> "Dev":
        process = subprocess.Popen(
            [sys.executable, "-m", "cobro.cli", "dev", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as in a terminal
        )
        dev = cls(process, log)
        threading.Thread(target=dev._read_output, daemon=True).start()
        return dev

    def _read_output(self) -> None:
        assert self.process.stdout is not None
        with self.log.open("a") as out:
            for raw in self.process.stdout:
                line = raw.decode(errors="replace")
                out.write(line)
                out.flush()
                if BANNER in line:
                    self.banner.set()

    def output(self, last: int = 80) -> str:
        return "\n".join(self.log.read_text().splitlines()[-last:])

    def wait_for_banner(self, timeout_s: float = 90) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.banner.wait(0.2):
            if self.process.poll() is not None:
                pytest.fail(f"`cobro dev` exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {BANNER!r} within {timeout_s:.0f} s:\n{self.output()}")

    def ctrl_c(self, timeout_s: float = 60) -> None:
        """What Ctrl-C in a terminal does: SIGINT to the foreground process group."""
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            code = self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"`cobro dev` still running {timeout_s:.0f} s after Ctrl-C:\n{self.output()}"
            )
        assert code == 0, f"`cobro dev` exited with {code} after Ctrl-C:\n{self.output()}"

    def kill(self, data_dir: Path) -> None:
        """Last resort: SIGKILL its group and every process of the stack, wherever it is (the
        supervisor starts each child in a session of its own)."""
        leftovers = stack_processes(self.process.pid, data_dir)
        if self.process.poll() is None:  # not reaped yet, so its group id is still ours
            os.killpg(self.process.pid, signal.SIGKILL)
        for process in leftovers:
            with contextlib.suppress(psutil.Error):
                process.kill()
        self.process.wait()


def dev_env(data_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    # Nor may the shell's Temporal CLI configuration (TEMPORAL_*, its config file) leak in.
    env = {
        k: v for k, v in os.environ.items() if k not in UNSET_VARS and not k.startswith("TEMPORAL_")
    }
    return (
        env
        | {name: str(port) for name, port in ports.items()}
        | {
            "COBRO_DATA_DIR": str(data_dir),
            "COBRO_DEMO_API_KEY": DEMO_KEY,
            "PYTHONUNBUFFERED": "1",
            "TEMPORAL_CONFIG_FILE": os.devnull,
        }
    )


def stack_processes(dev_pid: int, data_dir: Path) -> list[Any]:
    """Live processes of the stack: everything under `cobro dev`, plus anything that names the
    data folder on its command line or in COBRO_DATA_DIR (found even once orphaned)."""
    found: dict[int, Any] = {}
    with contextlib.suppress(psutil.NoSuchProcess):
        found |= {p.pid: p for p in psutil.Process(dev_pid).children(recursive=True)}
    for p in psutil.process_iter(["cmdline", "environ"]):
        cmdline, environ = p.info["cmdline"] or [], p.info["environ"] or {}
        if environ.get("COBRO_DATA_DIR") == str(data_dir) or any(
            str(data_dir) in arg for arg in cmdline
        ):
            found[p.pid] = p
    found.pop(os.getpid(), None)
    return [p for p in found.values() if alive(p)]


def alive(process: Any) -> bool:
    try:
        return bool(process.is_running() and process.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def role(process: Any) -> str:
    """`worker` for `python -m cobro.cli worker`, else the program's name (postgres, temporal)."""
    try:
        cmdline: list[str] = process.cmdline()
    except psutil.Error:
        return "?"
    if "cobro.cli" in cmdline:
        return cmdline[cmdline.index("cobro.cli") + 1]
    return Path(cmdline[0]).name if cmdline else "?"


def free_port_pairs(count: int) -> list[int]:
    """`count` ports p with p and p + 1 free, below the kernel's ephemeral range: a port it just
    handed out for `free_port()` is often next to the one it hands out for a connection."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    found: list[int] = []
    while len(found) < count:
        port = random.randrange(10_000, low - 1, 2)
        if port not in found and port_free(port) and port_free(port + 1):
            found.append(port)
    return found


def port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_http_200(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    status: int | str = "no answer"
    while time.monotonic() < deadline:
        try:
            status = httpx.get(url, timeout=5).status_code
            if status == 200:
                return
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        time.sleep(0.3)
    pytest.fail(f"{url} answered {status}, not 200, for {timeout_s:.0f} s")


def merchant_api(port: int) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {DEMO_KEY}"},
        timeout=30,
    )


def wait_for_status(api: httpx.Client, payment_id: str, status: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    seen: Any = None
    while time.monotonic() < deadline:
        seen = api.get(f"/v1/payments/{payment_id}").json().get("status")
        if seen == status:
            return
        time.sleep(0.2)
    pytest.fail(f"payment {payment_id} is {seen!r}, not {status!r}, after {timeout_s:.0f} s")


def check_prometheus(url: str, timeout_s: float = 30) -> None:
    """Debian's Prometheus (`make test` installs it) scrapes the API, the worker and the dev
    server, every target up, with cobro's alert rules loaded."""
    rules = httpx.get(f"{url}/api/v1/rules", timeout=10).json()["data"]["groups"]
    loaded = {rule["name"] for group in rules for rule in group["rules"]}
    assert {"PspFailover", "PspWebhooksNotForwarded", "WorkflowTaskBacklog"} <= loaded, loaded
    deadline = time.monotonic() + timeout_s
    health: dict[str, str] = {}
    while time.monotonic() < deadline:
        targets = httpx.get(f"{url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        if health == {"cobro-api": "up", "cobro-worker": "up", "temporal": "up"}:
            return
        time.sleep(1)
    pytest.fail(f"Prometheus targets after {timeout_s:.0f} s: {health}")


def stop_and_check_nothing_is_left(
    dev: Dev, data_dir: Path, ports: dict[str, int], replicas: int = 1
) -> None:
    running = stack_processes(dev.process.pid, data_dir)
    roles = Counter(role(p) for p in running)
    # Checked first, so that "nothing is left" below cannot pass by finding nothing to look at.
    assert {"postgres", "temporal", "simulator", "prometheus"} <= set(roles), roles
    assert roles["api"] == roles["worker"] == replicas, roles

    dev.ctrl_c()

    left = {p.pid: role(p) for p in running if alive(p)}
    left |= {p.pid: role(p) for p in stack_processes(dev.process.pid, data_dir)}
    assert left == {}, f"still running after Ctrl-C (pid: role): {left}"
    busy = [f"{name}={port}" for name, port in ports.items() if not port_free(port)]
    assert busy == [], f"ports still in use after Ctrl-C: {busy}"


def check_codec(data_dir: Path, ports: dict[str, int]) -> tuple[str, str]:
    """The dev payload key and codec token are in the data folder; the codec server answers
    with that key, and the Web UI is set to decode through it with that token."""
    keys, token = (data_dir / "payload-keys").read_text(), (data_dir / "codec-token").read_text()
    codec = f"http://127.0.0.1:{ports['COBRO_CODEC_PORT']}"
    assert httpx.get(f"{codec}/healthz", timeout=5).json()["key_ids"] == ["dev1"]
    ui = httpx.get(f"http://127.0.0.1:{ports['TEMPORAL_UI_PORT']}/api/v1/settings", timeout=5)
    assert ui.json()["Codec"]["Endpoint"] == f"{codec}/token/{token.strip()}", ui.text
    return keys, token


def test_cobro_dev_runs_stops_on_ctrl_c_and_resumes_with_its_data(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    ports = {name: free_port() for name in PORT_VARS}
    # The second run's second API and worker take the ports after these: two free ones in a row.
    ports["COBRO_API_PORT"], ports["COBRO_WORKER_METRICS_PORT"] = free_port_pairs(2)
    env = dev_env(data_dir, ports)

    first = Dev.start(env, tmp_path / "dev-1.log")
    try:
        first.wait_for_banner()
        with merchant_api(ports["COBRO_API_PORT"]) as api:
            health = api.get("/healthz")
            assert health.status_code == 200, health.text
            assert health.json()["database"] == health.json()["temporal"] == "ok"
            wait_http_200(f"http://127.0.0.1:{ports['TEMPORAL_UI_PORT']}/")

            created = api.post(
                "/v1/payments",
                headers={"Idempotency-Key": str(uuid.uuid4())},
                json={
                    "amount": 25000,
                    "currency": "MXN",
                    "method": "oxxo",
                    "customer": {"name": "Ana"},
                },
            )
            assert created.status_code == 201, created.text
            payment = created.json()
            assert payment["status"] == "awaiting_payment"
            assert payment["psp_reference"]
        assert DEMO_KEY in first.output(last=10_000)  # the banner tells the developer the key
        keys, token = check_codec(data_dir, ports)
        prometheus = f"http://localhost:{ports['COBRO_PROMETHEUS_PORT']}"
        assert prometheus in first.output(last=10_000)
        check_prometheus(prometheus)

        stop_and_check_nothing_is_left(first, data_dir, ports)
    finally:
        first.kill(data_dir)

    # Two of each: the second API and worker on the ports after the first ones'.
    second_ones = {
        "COBRO_API_PORT+1": ports["COBRO_API_PORT"] + 1,
        "COBRO_WORKER_METRICS_PORT+1": ports["COBRO_WORKER_METRICS_PORT"] + 1,
    }
    second = Dev.start(env | {"COBRO_DEV_APIS": "2"}, tmp_path / "dev-2.log", "--workers", "2")
    try:
        second.wait_for_banner()
        with (
            merchant_api(ports["COBRO_API_PORT"]) as api,
            merchant_api(second_ones["COBRO_API_PORT+1"]) as other_api,
        ):
            again = api.get(f"/v1/payments/{payment['id']}")
            assert again.status_code == 200, again.text
            assert again.json()["status"] == "awaiting_payment"
            assert other_api.get(f"/v1/payments/{payment['id']}").json() == again.json()

            # The customer pays the voucher issued before the restart.
            sim = f"http://127.0.0.1:{ports['COBRO_SIM_PORT']}"
            paid = httpx.post(
                f"{sim}/_sim/pay", json={"psp_reference": payment["psp_reference"]}, timeout=30
            )
            assert paid.status_code == 200, paid.text
            wait_for_status(other_api, payment["id"], "succeeded")
        # The same key decrypts what the first run wrote: it was kept, not made again.
        assert check_codec(data_dir, ports) == (keys, token)

        stop_and_check_nothing_is_left(second, data_dir, ports | second_ones, replicas=2)
    finally:
        second.kill(data_dir)
