"""cobro on a TLS-secured Temporal that requires client certificates (mTLS), configured only
with the Temporal CLI's variables (TEMPORAL_ADDRESS, TEMPORAL_TLS_*): nginx terminates TLS in
front of the dev server's gRPC port (tests/e2e/mtls.py). The worker and the API connect through
it and a payment completes; without the client certificate, or with one nginx does not trust,
both stop at start-up saying what to set.

The stack is its own (PostgreSQL, Temporal, simulator): a worker of the shared test stack
polling the same task queue could otherwise run this test's payment over plaintext."""

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.helpers import OXXO_BODY, create, run_cli, wait_for_status
from tests.e2e.mtls import CLIENT_CN, Certificates, Nginx, make_certificates
from tests.stack import CobroProcesses, Servers, free_port

START_UP_TIMEOUT_S = 40


@pytest.fixture(scope="module")
def tls_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tls")


@pytest.fixture(scope="module")
def certs(tls_root: Path) -> Certificates:
    return make_certificates(tls_root / "certs")


@pytest.fixture(scope="module")
def own_servers(tls_root: Path) -> Iterator[Servers]:
    started = Servers.start(tls_root / "stack")
    yield started
    started.stop()


@pytest.fixture(scope="module")
def proxy(tls_root: Path, own_servers: Servers, certs: Certificates) -> Iterator[Nginx]:
    nginx = Nginx.start(tls_root / "nginx", own_servers.temporal_address, certs)
    yield nginx
    nginx.stop()


def tls_env(
    proxy: Nginx, certs: Certificates, cert: Path | None, key: Path | None
) -> dict[str, str]:
    env = {
        "TEMPORAL_ADDRESS": proxy.address,
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH": str(certs.ca),
    }
    if cert is not None and key is not None:
        env |= {
            "TEMPORAL_TLS_CLIENT_CERT_PATH": str(cert),
            "TEMPORAL_TLS_CLIENT_KEY_PATH": str(key),
        }
    return env


async def _start_and_wait_for_exit(role: str, env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cobro.cli",
        role,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), START_UP_TIMEOUT_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"cobro {role} did not stop within {START_UP_TIMEOUT_S} s without credentials")
    assert process.returncode is not None
    return process.returncode, output.decode(errors="replace")


@pytest.mark.parametrize(
    ("client", "hint"),
    [
        ("no certificate", "refused a client without credentials"),
        ("a certificate from another CA", "refused this client certificate"),
    ],
)
async def test_without_an_accepted_client_certificate_worker_and_api_stop_saying_what_to_set(
    own_servers: Servers, proxy: Nginx, certs: Certificates, client: str, hint: str
) -> None:
    cert, key = (
        (None, None) if client == "no certificate" else (certs.stranger_cert, certs.stranger_key)
    )
    env = {
        **os.environ,
        "DATABASE_URL": own_servers.database_url,
        "COBRO_API_PORT": str(free_port()),
        "COBRO_DATA_DIR": str(own_servers.root / "data"),
        **tls_env(proxy, certs, cert, key),
    }
    for role in ("worker", "api"):
        code, output = await _start_and_wait_for_exit(role, env)
        assert code != 0, f"cobro {role} went on without an accepted certificate:\n{output}"
        assert f"cobro {role}: cannot connect to Temporal at {proxy.address}" in output, output
        assert hint in output, output
        assert "TEMPORAL_TLS_CLIENT_CERT_PATH" in output, output
        assert "TEMPORAL_TLS_CLIENT_KEY_PATH" in output, output
        assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def tls_stack(own_servers: Servers, proxy: Nginx, certs: Certificates) -> Iterator[CobroProcesses]:
    stack = CobroProcesses.start(
        own_servers, tls_env(proxy, certs, certs.client_cert, certs.client_key)
    )
    yield stack
    stack.stop()


@pytest.fixture
async def tls_api(tls_stack: CobroProcesses) -> AsyncIterator[httpx.AsyncClient]:
    merchant = await run_cli(tls_stack.env, "merchant", "create", "TLS shop")
    api_key = json.loads(merchant[0])["api_key"]
    async with httpx.AsyncClient(
        base_url=tls_stack.api_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    ) as client:
        yield client


async def test_worker_and_api_connect_through_mtls_and_a_payment_completes(
    tls_stack: CobroProcesses, tls_api: httpx.AsyncClient, proxy: Nginx
) -> None:
    health = (await tls_api.get("/healthz")).json()
    assert health["temporal"] == "ok", health

    created = await create(tls_api, OXXO_BODY)  # update-with-start; the worker makes the charge
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "awaiting_payment" and payment["psp_reference"], payment
    async with httpx.AsyncClient(base_url=tls_stack.sim_url, timeout=30) as sim:
        paid = await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
        assert paid.status_code == 200, paid.text
    done = await wait_for_status(tls_api, payment["id"], "succeeded", timeout_s=30)
    assert done["amount_received"] == OXXO_BODY["amount"]

    # Every call went through nginx with the client certificate: the API's update-with-start and
    # webhook signal, the worker's polls.
    calls = [line for line in proxy.access_log() if f"CN={CLIENT_CN}" in line]
    for method in ("ExecuteMultiOperation", "SignalWorkflowExecution", "PollWorkflowTaskQueue"):
        assert any(f"/{method} " in line and '" 200 "' in line for line in calls), (
            method,
            proxy.access_log()[-20:],
        )
