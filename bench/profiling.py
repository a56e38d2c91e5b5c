"""py-spy on the worker and the API during the timed cobro phase (`bench.run --profile DIR`)."""

import signal
import subprocess
import sys
from pathlib import Path

from bench.meters import Meters


def start_profilers(directory: Path, meters: Meters) -> list[subprocess.Popen[bytes]]:
    """py-spy (if installed in this virtualenv; it is not a dependency) on the worker and the
    API for the timed cobro phase, as collapsed stacks: `python -m bench.stacks FILE`."""
    py_spy = Path(sys.executable).parent / "py-spy"
    if not py_spy.exists():
        raise SystemExit(f"--profile needs py-spy: {sys.executable} -m pip install py-spy")
    directory.mkdir(parents=True, exist_ok=True)
    procs = []
    for role in ("worker", "api"):
        argv = [str(py_spy), "record", "--pid", str(meters.pids[role]), "--rate", "200"]
        argv += ["--format", "raw", "--output", str(directory / f"{role}.txt"), "--nonblocking"]
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return procs


def stop_profilers(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
