"""A fresh stack for one chaos scenario, and the faults it can suffer: kill -9 and restart any
process, freeze PostgreSQL, stop and start it."""

import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil

from cobro.devstack import postgres, temporal
from tests.stack import CobroProcesses, Servers, free_port, stop


class ChaosStack:
    """A fresh stack in `root`, and the faults: kill -9 and restart any process, freeze
    PostgreSQL, stop and start it."""

    def __init__(
        self, root: Path, overrides: dict[str, str] | None = None, workers: int = 1
    ) -> None:
        self.root = root
        self.servers = Servers.start(root)
        try:
            self.cobro = CobroProcesses.start(self.servers, overrides, workers=workers)
        except BaseException:
            # CobroProcesses.start leaves the roles it started running when one fails to come
            # up: stop those (our own children, by pid) before the servers.
            for child in psutil.Process().children():
                if "cobro.cli" in " ".join(child.cmdline()):
                    child.kill()
                    child.wait(15)
            self.servers.stop()
            raise
        self.frozen: list[psutil.Process] = []

    @property
    def pgdata(self) -> Path:
        return (self.root / "postgres").resolve()

    def _log(self, name: str) -> Any:
        return (self.root / f"{name}.log").open("ab")

    # cobro's own processes

    def kill(self, role: str) -> None:
        self.cobro.kill(role)

    def start(self, role: str) -> None:
        self.cobro.start_role(role)

    def exited(self) -> dict[str, int]:
        """cobro processes that are not running, with their exit codes."""
        return {
            role: code
            for role, proc in self.cobro.procs.items()
            if (code := proc.poll()) is not None
        }

    # the Temporal dev server: same SQLite file, same port

    def kill_temporal(self) -> None:
        stop(self.servers.processes[1], signal.SIGKILL)

    def start_temporal(self) -> None:
        address = self.servers.temporal_address
        port = int(address.rsplit(":", 1)[1])
        self.servers.processes[1] = subprocess.Popen(
            temporal.server_command(self.root / "temporal.db", port, free_port(), "default"),
            stdout=self._log("temporal"),
            stderr=subprocess.STDOUT,
        )
        temporal.wait_ready(address)

    # PostgreSQL: freeze (SIGSTOP the postmaster and every backend), or stop and start

    def freeze_postgres(self) -> None:
        top = psutil.Process(self.servers.processes[0].pid)
        self.frozen = [top, *top.children(recursive=True)]
        for proc in self.frozen:  # the postmaster first, so it forks no new backend
            proc.send_signal(signal.SIGSTOP)

    def thaw_postgres(self) -> None:
        for proc in reversed(self.frozen):
            try:
                proc.send_signal(signal.SIGCONT)
            except psutil.NoSuchProcess:
                pass
        self.frozen = []

    def stop_postgres(self) -> None:
        """Immediate shutdown (SIGQUIT): every backend dies, clients lose their connections,
        the next start replays the WAL, as after a crash."""
        stop(self.servers.processes[0], signal.SIGQUIT)

    def start_postgres(self) -> None:
        argv, user = postgres.server_command(self.pgdata)
        self.servers.processes[0] = subprocess.Popen(
            argv, user=user, stdout=self._log("postgres"), stderr=subprocess.STDOUT
        )
        postgres.wait_ready(self.pgdata, timeout_s=60)

    def stop_all(self) -> None:
        self.thaw_postgres()
        try:
            self.cobro.stop()
        finally:
            self.servers.stop()
