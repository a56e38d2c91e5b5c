"""Reading compose files as `docker compose` would, to check them against the code they run
(tests/unit/test_docker_compose.py for docker-compose.yml, tests/unit/test_deploy_compose.py for
deploy/docker-compose.yml): no Docker engine runs where the tests run."""

import argparse
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from cobro import cli
from cobro.settings import Settings

ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (what containers must listen on)
# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}: what compose
# substitutes from the host's shell (or the project's .env).
INTERPOLATION = re.compile(r"\$\{(\w+)(?:(:?[-?])([^}]*))?\}")


def load(path: Path) -> dict[str, Any]:
    compose = yaml.safe_load(path.read_text())
    assert isinstance(compose, dict), f"{path.name} is not a YAML mapping"
    return compose


def services(path: Path) -> dict[str, dict[str, Any]]:
    found = load(path).get("services")
    assert isinstance(found, dict), f"{path.name} has no `services:` mapping"
    return found


def command(name: str, service: dict[str, Any]) -> list[str]:
    given = service.get("command")
    if given is None:
        return []
    if isinstance(given, str):
        return shlex.split(given)
    assert isinstance(given, list), f"service {name!r}: `command` is neither a string nor a list"
    assert all(isinstance(arg, str) for arg in given), (
        f"service {name!r}: every `command` item must be a string (quote numbers): {given!r}"
    )
    return given


def cobro_services(all_services: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Each service that runs a `cobro ...` command, with that command's arguments."""
    found = {}
    for name, service in all_services.items():
        argv = command(name, service)
        if argv[:1] == ["cobro"]:
            found[name] = argv[1:]
    return found


def environment(name: str, service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):  # the `- NAME=value` form
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    assert isinstance(env, dict), f"service {name!r}: `environment` is neither a mapping nor a list"
    return {str(key): "" if value is None else str(value) for key, value in env.items()}


def interpolated(value: str, given: Mapping[str, str] | None = None) -> str:
    """The value compose would use with `given` set in the host's environment (nothing, by
    default); a required variable (`${NAME:?...}`) missing from `given` fails the test."""
    given = given or {}

    def substitute(match: re.Match[str]) -> str:
        name, operator, word = match.group(1), match.group(2) or "", match.group(3) or ""
        value = given.get(name)
        if operator.endswith("?"):
            assert value, f"{name} is required (`${{{name}:?...}}`) but not given"
            return value
        if operator == ":-":
            return value or word
        return word if value is None and operator == "-" else value or ""

    return INTERPOLATION.sub(substitute, value).replace("$$", "$")


def required_variables(path: Path) -> set[str]:
    """The variables the file requires (`${NAME:?...}`) of whoever runs it."""
    return {
        m.group(1) for m in INTERPOLATION.finditer(path.read_text()) if "?" in (m.group(2) or "")
    }


def settings_env_names() -> dict[str, str]:
    """Env name (upper-cased) -> the keyword Settings(...) accepts for it."""
    prefix = str(Settings.model_config.get("env_prefix", "")).upper()
    names = {}
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias if isinstance(field.validation_alias, str) else field.alias
        names[alias.upper() if alias else prefix + field_name.upper()] = alias or field_name
    return names


def settings_for(
    name: str, service: dict[str, Any], given: Mapping[str, str] | None = None
) -> Settings:
    """Settings as the service's container would build them (compose defaults substituted)."""
    keywords = settings_env_names()
    values = {
        keywords[key.upper()]: interpolated(value, given)
        for key, value in environment(name, service).items()
        if key.upper() in keywords
    }
    # model_validate, unlike Settings(), reads nothing from this process's own environment.
    return Settings.model_validate(values)


class _Parsed(Exception):
    def __init__(self, namespace: argparse.Namespace) -> None:
        super().__init__()
        self.namespace = namespace


def parse_with_cobro_cli(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> argparse.Namespace:
    """Parse argv with the parser `cobro.cli.main` builds, without running the command.

    `main` builds its parser inline, so the test runs `main(argv)` with the top-level
    `parse_args` wrapped to stop right after parsing. This is stricter than `main(argv +
    ["--help"])`, which exits 0 as soon as the subcommand is recognised and so never sees
    stray or missing arguments, and needs no subprocess. (Subparsers use `parse_known_args`
    internally, so only the top-level call is intercepted.)
    """
    real_parse_args = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        raise _Parsed(real_parse_args(self, *args, **kwargs))

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    try:
        cli.main(argv)
    except _Parsed as parsed:
        return parsed.namespace
    finally:
        monkeypatch.undo()
    raise AssertionError("cobro.cli.main returned without calling ArgumentParser.parse_args")


def check_cobro_commands(
    path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every `cobro ...` command of the file is one cobro's CLI accepts, as it is written."""
    found = cobro_services(services(path))
    assert found, f"no service in {path.name} runs a `cobro` command"
    for name, argv in found.items():
        try:
            parsed = parse_with_cobro_cli(argv, monkeypatch)
        except SystemExit as exc:
            pytest.fail(
                f"service {name!r}: `cobro {shlex.join(argv)}` is rejected by cobro's CLI "
                f"(exit {exc.code}): {capsys.readouterr().err.strip()}"
            )
        assert parsed.command == argv[0], (
            f"service {name!r}: `cobro {shlex.join(argv)}` parsed as command {parsed.command!r}"
        )


def subcommand(argv: list[str]) -> str:
    """The subcommand path: the words before the first flag (`server start-dev`)."""
    words = []
    for arg in argv:
        if arg.startswith("-"):
            break
        words.append(arg)
    return " ".join(words)
