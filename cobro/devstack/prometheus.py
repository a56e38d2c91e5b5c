"""`make run`'s Prometheus: Debian's package (/usr/bin/prometheus, which `make run` and `make test`
install where they can), scraping the API, the worker(s) and the Temporal dev server, with the
alert rules of deploy/prometheus/alerts.yml loaded. Optional: without the package the stack
runs without it."""

import json
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"
SCRAPE_INTERVAL = "5s"  # a developer sees a payment move the metrics within seconds


def binary() -> str | None:
    return shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )


def missing_reason() -> str | None:
    """Why Prometheus cannot run here, in one line; None when it can."""
    if binary() is None:
        return (
            "Prometheus is not installed (Debian: apt-get install --no-install-recommends "
            "prometheus); running without it"
        )
    if not RULES.exists():
        return f"{RULES} is missing; running Prometheus without it is pointless, skipped"
    return None


def write_config(path: Path, jobs: Mapping[str, Sequence[str]]) -> Path:
    """prometheus.yml scraping `jobs` ({job name: [host:port, ...]}) with cobro's alert rules."""
    config = {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "15s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in jobs.items()
            if targets
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2))  # JSON is YAML: no YAML library needed
    return path


def server_command(config: Path, data_dir: Path, port: int) -> list[str]:
    prometheus = binary()
    assert prometheus is not None
    return [
        prometheus,
        f"--config.file={config}",
        f"--storage.tsdb.path={data_dir}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
