"""Two more API processes on the session stack (same PostgreSQL, Temporal, worker and PSP
simulator), with small rate limits and webhook caps, so a test sees what N replicas share: key
revocations, merchants' token buckets. Import `api_pair` into a test module to use it."""

import dataclasses
from collections.abc import Iterator

import pytest

from tests.stack import CobroProcesses, Servers

# Every merchant's defaults on these two processes (a merchant's own limits override them).
PAIR_LIMITS = {
    "COBRO_CREATE_RATE_PER_S": "0.05",  # a create every 20 s once the burst is spent
    "COBRO_CREATE_BURST": "3",
    "COBRO_READ_RATE_PER_S": "2",
    "COBRO_READ_BURST": "30",
    # A small pool (5, and 5 more at peaks) that a flood of one PSP's webhooks would take whole
    # without the per-PSP cap (tests/e2e/test_webhook_fairness.py).
    "COBRO_DB_POOL_SIZE": "5",
    "COBRO_WEBHOOK_CONCURRENCY": "3",
    "COBRO_WEBHOOK_QUEUE": "8",
}


@pytest.fixture(scope="module")
def api_pair(
    servers: Servers, cobro: CobroProcesses, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CobroProcesses]:
    """Logs in their own folder; the session's data dir (its payload key) and simulator, so the
    session's worker runs the payments they start and their forwarders ask the right STP."""
    root = tmp_path_factory.mktemp("api-pair")
    overrides = {
        **PAIR_LIMITS,
        "COBRO_DATA_DIR": cobro.env["COBRO_DATA_DIR"],
        "COBRO_SIM_PORT": cobro.env["COBRO_SIM_PORT"],
    }
    pair = CobroProcesses.start(
        dataclasses.replace(servers, root=root), overrides, apis=2, workers=0, only_apis=True
    )
    yield pair
    pair.stop()
