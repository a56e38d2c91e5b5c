"""deploy/docker-compose.yml, the production deployment, checked against the code it runs, as
tests/unit/test_docker_compose.py checks docker-compose.yml (there is no Docker engine here):
every `cobro` command against the CLI, every variable against Settings and the Temporal CLI's
own variables, each cobro service's environment as valid live Settings once an operator has
set what deploy/env.example asks for, the Temporal server on PostgreSQL with its schema set up
first, Prometheus scraping every replica with the alert rules, the load balancer in front of
every API, and the start-up order."""

import base64
import os
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from cryptography.fernet import Fernet

from cobro.telemetry import OTLP_VARIABLES
from cobro.temporal_config import ENV_VARIABLES, connect_config
from tests import compose

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "env.example"
REPLICAS = 2
TEMPORAL_FRONTEND_PORT = 7233
# What an operator writes into deploy/.env (from deploy/env.example), in the right form.
OPERATOR_ENV = {
    "COBRO_DB_PASSWORD": secrets.token_urlsafe(16),
    "TEMPORAL_DB_PASSWORD": secrets.token_urlsafe(16),
    "COBRO_SECRET_KEY": Fernet.generate_key().decode(),
    "COBRO_PAYLOAD_KEYS": f"k1:{base64.b64encode(os.urandom(32)).decode()}",
    "COBRO_CODEC_TOKEN": secrets.token_urlsafe(32),
    "STRIPE_API_KEY": "sk_live_x",
    "STRIPE_WEBHOOK_SECRET": "whsec_x",
    "CONEKTA_API_KEY": "key_x",
    "CONEKTA_WEBHOOK_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\nx\n-----END PUBLIC KEY-----",
    "STP_EMPRESA": "COBRO",
    "STP_CLABE_PREFIX": "1234",
    "STP_WEBHOOK_USER": "stp",
    "STP_WEBHOOK_PASSWORD": "x",
    "STP_ALLOWED_IPS": "203.0.113.0/24",
    "STP_PRIVATE_KEY": "-----BEGIN ENCRYPTED PRIVATE KEY-----\nx\n-----END ...-----",
    "STP_KEY_PASSPHRASE": "x",
    "MOONPAY_API_KEY": "sk_live_x",
    "MOONPAY_PUBLISHABLE_KEY": "pk_live_x",
    "MOONPAY_WEBHOOK_KEY": "wk_live_x",
    "MERCADOPAGO_ACCESS_TOKEN": "APP_USR-x",
    "MERCADOPAGO_WEBHOOK_SECRET": "x",
}


def _services() -> dict[str, dict[str, Any]]:
    return compose.services(COMPOSE_FILE)


def _by_command(role: str) -> list[str]:
    """The services that run `cobro <role>`."""
    return [name for name, argv in compose.cobro_services(_services()).items() if argv == [role]]


def _image(name: str) -> str:
    image = str(_services()[name].get("image", ""))
    return image


def _env(name: str) -> dict[str, str]:
    service = _services()[name]
    return {
        key: compose.interpolated(value, OPERATOR_ENV)
        for key, value in compose.environment(name, service).items()
    }


def _depends_on(name: str) -> dict[str, str]:
    """Dependency -> its condition (`, optional` when `required: false`)."""
    depends = _services()[name].get("depends_on") or {}
    assert isinstance(depends, dict), f"service {name!r}: depends_on must be the mapping form"
    return {
        dep: (spec or {}).get("condition", "")
        + ("" if (spec or {}).get("required", True) else ", optional")
        for dep, spec in depends.items()
    }


def _mounts(name: str) -> dict[str, str]:
    """Container path -> host path (relative to deploy/) of the service's bind mounts."""
    found = {}
    for volume in _services()[name].get("volumes") or []:
        source, target = str(volume).split(":")[:2]
        if source.startswith("."):
            found[target] = source
    return found


def test_the_production_stack_has_every_part() -> None:
    assert len(_by_command("api")) == REPLICAS, _by_command("api")
    assert len(_by_command("worker")) == REPLICAS, _by_command("worker")
    for role in ("migrate", "temporal-setup", "codec-server"):
        assert len(_by_command(role)) == 1, f"one service must run `cobro {role}`"
    assert _image("temporal").startswith("temporalio/server:")
    assert _image("temporal-schema").startswith("temporalio/admin-tools:")
    assert _image("temporal-ui").startswith("temporalio/ui:")
    assert _image("prometheus").startswith("prom/prometheus:")
    assert not any("simulator" in argv for argv in compose.cobro_services(_services()).values())
    for name in compose.cobro_services(_services()):
        assert _services()[name].get("build") == "..", (
            f"service {name!r} should be built from the repository's Dockerfile (`build: ..`)"
        )


def test_cobro_commands_are_accepted_by_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    compose.check_cobro_commands(COMPOSE_FILE, capsys, monkeypatch)


def test_cobro_services_set_only_settings_temporal_or_otlp_variables() -> None:
    known = set(compose.settings_env_names()) | set(ENV_VARIABLES) | set(OTLP_VARIABLES)
    for name in compose.cobro_services(_services()):
        env = compose.environment(name, _services()[name])
        unknown = sorted(key for key in env if key.upper() not in known)
        assert not unknown, (
            f"service {name!r} sets {unknown}: neither cobro's Settings, the Temporal CLI's "
            f"connection variables nor OpenTelemetry's exporter read them (typo?)"
        )


def test_env_example_names_every_variable_the_file_requires() -> None:
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE.read_text(), re.MULTILINE))
    missing = compose.required_variables(COMPOSE_FILE) - listed
    assert not missing, f"{ENV_EXAMPLE.name} does not mention {sorted(missing)}"
    assert set(OPERATOR_ENV) <= listed, sorted(set(OPERATOR_ENV) - listed)


def test_each_cobro_service_is_valid_live_settings_reaching_the_stack() -> None:
    payload_keys = set()
    for name in compose.cobro_services(_services()):
        try:
            settings = compose.settings_for(name, _services()[name], OPERATOR_ENV)
        except ValueError as exc:
            pytest.fail(f"service {name!r}: not valid Settings once deploy/.env is filled: {exc}")
        assert settings.cobro_psp_mode == "live", f"service {name!r} must run in live mode"
        assert settings.cobro_bind_host == compose.ALL_INTERFACES, name
        db = urlsplit(settings.db_url)
        assert (db.scheme, db.hostname) == ("postgresql+asyncpg", "postgres"), settings.db_url
        assert db.password == OPERATOR_ENV["COBRO_DB_PASSWORD"]
        # The same connection the Temporal CLI would make with this environment.
        temporal = connect_config(settings, _env(name))
        assert temporal["target_host"] == f"temporal:{TEMPORAL_FRONTEND_PORT}", temporal
        assert "tls" not in temporal and "api_key" not in temporal, (
            f"service {name!r}: the compose network's Temporal speaks plaintext; an empty "
            f"TEMPORAL_API_KEY must not turn TLS on"
        )
        assert temporal["namespace"] == _env("temporal-ui")["TEMPORAL_DEFAULT_NAMESPACE"]
        payload_keys.add(settings.cobro_payload_keys.get_secret_value())
    # Every Temporal client encrypts and decrypts with the same keys (README, Encrypted history).
    assert payload_keys == {OPERATOR_ENV["COBRO_PAYLOAD_KEYS"]}


def test_setup_jobs_run_once_and_in_order() -> None:
    for job in ("migrate", "temporal-setup", "temporal-schema"):
        assert _services()[job].get("restart") == "no", f"{job} is a one-shot job"
        assert not _services()[job].get("ports"), f"{job} publishes no port"
    assert _depends_on("migrate") == {"postgres": "service_healthy"}
    assert _depends_on("temporal-schema") == {"temporal-postgres": "service_healthy"}
    assert _depends_on("temporal") == {"temporal-schema": "service_completed_successfully"}
    assert _depends_on("temporal-setup") == {"temporal": "service_healthy"}
    for name in _by_command("api") + _by_command("worker"):
        assert _depends_on(name) == {
            "migrate": "service_completed_successfully",
            "temporal-setup": "service_completed_successfully, optional",
        }, name


def test_the_temporal_services_are_a_profile_temporal_cloud_leaves_off() -> None:
    """With Temporal Cloud nothing of the compose file's own Temporal starts (COMPOSE_PROFILES
    empty), and the apps depend on it only optionally; deploy/env.example turns it on."""
    temporal = {"temporal-postgres", "temporal-schema", "temporal", "temporal-ui"}
    temporal |= set(_by_command("temporal-setup"))
    for name, service in _services().items():
        profiles = service.get("profiles") or []
        assert profiles == (["temporal"] if name in temporal else []), (name, profiles)
    assert re.search(r"^COMPOSE_PROFILES=temporal$", ENV_EXAMPLE.read_text(), re.MULTILINE)
    for name in ("postgres", "temporal-postgres", "temporal"):
        assert (_services()[name].get("healthcheck") or {}).get("test"), f"{name} needs one"


def test_temporal_runs_on_postgresql_with_its_schema_set_up_by_admin_tools() -> None:
    server = _env("temporal")
    assert server["DB"] == "postgres12"
    assert server["POSTGRES_SEEDS"] == "temporal-postgres"
    assert server["POSTGRES_PWD"] == _env("temporal-postgres")["POSTGRES_PASSWORD"]
    assert server["BIND_ON_IP"] == compose.ALL_INTERFACES
    main_db, visibility_db = server["DBNAME"], server["VISIBILITY_DBNAME"]
    assert main_db != visibility_db
    # Both databases exist before the schema job: one from POSTGRES_DB, one from an init script.
    assert _env("temporal-postgres")["POSTGRES_DB"] == main_db
    init = _mounts("temporal-postgres")
    scripts = [
        DEPLOY / host for target, host in init.items() if "docker-entrypoint-initdb" in target
    ]
    assert any(f"CREATE DATABASE {visibility_db};" in s.read_text() for s in scripts), scripts
    # The schema job sets up and upgrades both, with the server's credentials.
    schema = _services()["temporal-schema"]
    script = " ".join(compose.command("temporal-schema", schema)).replace("$$", "$")
    for db, kind in ((main_db, "temporal"), (visibility_db, "visibility")):
        assert f"--db {db} setup-schema -v 0.0" in script, script
        assert (
            f"--db {db} update-schema -d /etc/temporal/schema/postgresql/v12/{kind}/versioned"
        ) in script, script
    assert "--plugin postgres12 --ep temporal-postgres" in script
    assert _env("temporal-schema")["SQL_PASSWORD"] == server["POSTGRES_PWD"]
    assert _image("temporal-schema").split(":")[1] == _image("temporal").split(":")[1], (
        "the schema must be the server's version"
    )
    dynamic = server["DYNAMIC_CONFIG_FILE_PATH"]
    host = _mounts("temporal").get(dynamic)
    assert host is not None and yaml.safe_load((DEPLOY / host).read_text()), dynamic


def test_the_ui_reads_payloads_through_cobros_codec_server() -> None:
    ui = _env("temporal-ui")
    assert ui["TEMPORAL_ADDRESS"] == f"temporal:{TEMPORAL_FRONTEND_PORT}"
    codec_name = _by_command("codec-server")[0]
    codec = compose.settings_for(codec_name, _services()[codec_name], OPERATOR_ENV)
    endpoint = urlsplit(ui["TEMPORAL_CODEC_ENDPOINT"])
    published = [str(p) for p in _services()[codec_name].get("ports") or []]
    assert f"{endpoint.port}:{codec.cobro_codec_port}" in published, (endpoint, published)
    assert endpoint.path == f"/token/{OPERATOR_ENV['COBRO_CODEC_TOKEN']}", endpoint.path
    assert codec.cobro_codec_token.get_secret_value() == OPERATOR_ENV["COBRO_CODEC_TOKEN"]
    assert ui["TEMPORAL_CORS_ORIGINS"] in codec.codec_cors_origins


def test_prometheus_scrapes_every_replica_with_the_alert_rules() -> None:
    mounts = _mounts("prometheus")
    config_path = next(t for t in mounts if t.endswith("prometheus.yml"))
    config = yaml.safe_load((DEPLOY / mounts[config_path]).read_text())
    command = compose.command("prometheus", _services()["prometheus"])
    assert f"--config.file={config_path}" in command, command
    for rules in config["rule_files"]:
        assert rules in mounts, f"rule file {rules} is not mounted"
        assert (DEPLOY / mounts[rules]).is_file(), f"{mounts[rules]} is missing"
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {
        name: {t for c in job["static_configs"] for t in c["targets"]} for name, job in jobs.items()
    }
    apis, workers = _by_command("api"), _by_command("worker")
    api_port = compose.settings_for(apis[0], _services()[apis[0]], OPERATOR_ENV).cobro_api_port
    worker_port = compose.settings_for(
        workers[0], _services()[workers[0]], OPERATOR_ENV
    ).cobro_worker_metrics_port
    assert targets["cobro-api"] == {f"{name}:{api_port}" for name in apis}
    assert targets["cobro-worker"] == {f"{name}:{worker_port}" for name in workers}
    metrics = urlsplit(f"//{_env('temporal')['PROMETHEUS_ENDPOINT']}")
    assert targets["temporal"] == {f"temporal:{metrics.port}"}


def test_the_load_balancer_fronts_every_api_and_is_the_only_trusted_proxy() -> None:
    mounts = _mounts("lb")
    conf = (DEPLOY / next(iter(mounts.values()))).read_text()
    upstreams = set(re.findall(r"^\s*server\s+([\w.-]+:\d+)", conf, re.MULTILINE))
    apis = _by_command("api")
    port = compose.settings_for(apis[0], _services()[apis[0]], OPERATOR_ENV).cobro_api_port
    assert upstreams == {f"{name}:{port}" for name in apis}, upstreams
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    lb_address = _services()["lb"]["networks"]["default"]["ipv4_address"]
    for name in apis:
        trusted = compose.settings_for(name, _services()[name], OPERATOR_ENV)
        assert trusted.cobro_trusted_proxies == lb_address, name
    assert not any(_services()[name].get("ports") for name in apis), "only the balancer is public"
