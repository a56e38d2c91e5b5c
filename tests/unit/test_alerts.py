"""The alert rules (deploy/prometheus/alerts.yml): valid for Prometheus (`promtool check rules`),
and each one proven by its unit test (`promtool test rules alerts_test.yml`). promtool comes
with Debian's `prometheus` package, which `make test` installs; without it this test fails."""

import shutil
import subprocess
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def promtool(*args: str) -> str:
    binary = shutil.which("promtool")
    assert binary, "promtool is missing: `make test` installs Debian's prometheus package"
    done = subprocess.run(
        [binary, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def test_the_rules_are_valid() -> None:
    out = promtool("check", "rules", "alerts.yml")
    print(out)
    assert "SUCCESS" in out


def test_every_alert_has_a_passing_unit_test() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    tests = yaml.safe_load((DEPLOY / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for t in tests for case in t["alert_rule_test"]}
    assert alerts == tested
    for t in tests:  # each alert is shown both quiet and firing
        cases = t["alert_rule_test"]
        assert any(c["exp_alerts"] == [] for c in cases), t["name"]
        assert any(c["exp_alerts"] for c in cases), t["name"]
    out = promtool("test", "rules", "alerts_test.yml")
    print(out)
    assert "SUCCESS" in out
