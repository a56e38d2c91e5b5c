"""Session fixtures: real PostgreSQL and Temporal, started once per test run."""

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from temporalio.client import Client

from cobro.db import merchants_repo
from cobro.db.session import make_engine, make_sessionmaker
from cobro.settings import Settings
from cobro.temporal_client import connect
from tests.otlp import Receiver, serve
from tests.stack import CobroProcesses, Servers


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started = Servers.start(tmp_path_factory.mktemp("stack"))
    yield started
    started.stop()


@pytest.fixture(scope="session")
def settings(servers: Servers) -> Settings:
    return Settings(
        database_url=servers.database_url,
        temporal_address=servers.temporal_address,
        cobro_data_dir=servers.root / "data",
    )


@pytest.fixture(scope="session")
async def engine(settings: Settings) -> AsyncIterator[AsyncEngine]:
    created = make_engine(settings)
    yield created
    await created.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture(scope="session")
def otlp() -> Iterator[Receiver]:
    """Every span the test stack's API and worker export (OTLP/HTTP, protobuf)."""
    receiver = Receiver()
    server = serve(receiver)
    yield receiver
    server.shutdown()


@pytest.fixture(scope="session")
def cobro(servers: Servers, otlp: Receiver) -> Iterator[CobroProcesses]:
    """The API, worker and simulator as separate processes, like `make run` runs them, with
    traces exported as in production (to a local receiver)."""
    stack = CobroProcesses.start(
        servers,
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "200",  # export within 0.2 s, not 5 s
        },
    )
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
async def temporal_client(servers: Servers, settings: Settings) -> Client:
    return await connect(settings)


async def _new_merchant(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    api_key = merchants_repo.new_api_key()
    async with sessions.begin() as session:
        merchant_id = await merchants_repo.create_merchant(session, "Test merchant", api_key)
    return merchant_id, api_key


@pytest.fixture
async def merchant(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    """A fresh merchant (id, api key) per test, so tests never see each other's payments."""
    return await _new_merchant(sessions)


@pytest.fixture
async def other_merchant(sessions: async_sessionmaker[AsyncSession]) -> tuple[str, str]:
    return await _new_merchant(sessions)


@pytest.fixture
async def api(cobro: CobroProcesses, merchant: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client for the merchant API, authenticated as `merchant`."""
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    async with httpx.AsyncClient(base_url=cobro.api_url, headers=headers, timeout=30) as client:
        yield client


@pytest.fixture
async def sim(cobro: CobroProcesses) -> AsyncIterator[httpx.AsyncClient]:
    """The simulator's control API; any chaos a test turns on is turned off after it."""
    async with httpx.AsyncClient(base_url=cobro.sim_url, timeout=30) as client:
        yield client
        await client.put("/_sim/chaos", json={})
        await client.put("/_sim/rate_limits", json={})


def idempotency_key() -> str:
    return str(uuid.uuid4())


def project_root() -> Path:
    return Path(__file__).resolve().parent.parent
