"""Runs child processes, prefixes their logs, restarts the ones that die, stops them all."""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO

MAX_BACKOFF_S = 30.0
STOP_TIMEOUT_S = 15.0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    user: str | None = None
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None
    backoff_s: float = 1.0
    restart_at: float | None = None
    started_at: float = field(default=0.0)


def replica_name(role: str, i: int) -> str:
    """The name of the i-th (from 0) process of a role: api, api-2, api-3 ..."""
    return role if i == 0 else f"{role}-{i + 1}"


def replica_role(name: str) -> str:
    """The role of a process `replica_name` named: api-2 -> api (codec-server stays)."""
    role, _, number = name.rpartition("-")
    return role if role and number.isdigit() else name


def say(message: str) -> None:
    print(f"[cobro] {message}", flush=True)


def _pump(name: str, stream: IO[bytes]) -> None:
    prefix = f"[{name}] ".encode()
    for line in iter(stream.readline, b""):
        sys.stdout.buffer.write(prefix + line)
        sys.stdout.buffer.flush()


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self.stopping = False

    def start(self, child: Child) -> Child:
        # Own process group: Ctrl-C reaches only us, and we stop children in order.
        child.process = subprocess.Popen(
            child.argv,
            env=child.env,
            user=child.user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child.started_at = time.monotonic()
        child.restart_at = None
        assert child.process.stdout is not None
        threading.Thread(target=_pump, args=(child.name, child.process.stdout), daemon=True).start()
        if child not in self.children:
            self.children.append(child)
        return child

    def check(self, child: Child) -> None:
        """Fail fast if a child died during start-up (used while waiting for readiness)."""
        assert child.process is not None
        code = child.process.poll()
        if code is not None:
            raise RuntimeError(
                f"{child.name} exited with code {code} while starting; "
                f"its log lines above (prefixed [{child.name}]) say why"
            )

    def watch(self) -> None:
        """Restart children that die, with exponential backoff, until stop() is called."""
        while not self.stopping:
            now = time.monotonic()
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None:
                    if now - child.started_at > 60:
                        child.backoff_s = 1.0  # healthy for a minute: forget past crashes
                    continue
                if child.restart_at is None:
                    child.restart_at = now + child.backoff_s
                    say(
                        f"{child.name} exited unexpectedly (code {code}); restarting in "
                        f"{child.backoff_s:.0f} s"
                    )
                    child.backoff_s = min(child.backoff_s * 2, MAX_BACKOFF_S)
                elif now >= child.restart_at and not self.stopping:
                    say(f"restarting {child.name}")
                    self.start(child)
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop children newest first (apps before Temporal before PostgreSQL)."""
        self.stopping = True
        for child in reversed(self.children):
            process = child.process
            if process is None or process.poll() is not None:
                continue
            say(f"stopping {child.name}")
            try:
                os.killpg(process.pid, child.stop_signal)
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                say(f"{child.name} did not stop in {STOP_TIMEOUT_S:.0f} s; killing it")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            except ProcessLookupError:
                pass
