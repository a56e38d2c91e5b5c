"""Merchant webhook URLs are safe to call (issue 16): a live-mode API refuses http and every
non-public destination at registration with a 422 naming the reason, and a delivery checks
again, so a name that passed registration but now resolves to a refused address is not sent."""

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from activities.merchant_webhooks import MerchantWebhookActivities
from cobro.db import webhooks_repo
from cobro.payload_keys import new_key_entry
from cobro.secret_box import SecretBox
from cobro.settings import Settings
from cobro.webhook_urls import UrlPolicy
from tests.e2e.helpers import OXXO_BODY, create
from tests.e2e.merchant_receiver import merchant_receiver
from tests.stack import CobroProcesses, free_port

LIVE = {
    "COBRO_PSP_MODE": "live",
    "COBRO_PSPS": "stripe",  # live mode needs each enabled PSP's secrets; fakes do here
    "STRIPE_API_KEY": "sk_live_not_used",
    "STRIPE_WEBHOOK_SECRET": "whsec_not_used",
    "COBRO_SECRET_KEY": "Y29icm8tZGV2ZWxvcG1lbnQta2V5LW5vdC1zZWNyZXQ=",
    "COBRO_PAYLOAD_KEYS": new_key_entry("live-test"),
}

# URL -> the class and address the 422 must name.
REFUSED = {
    "https://10.1.2.3/hooks": "10.1.2.3 is a private address",
    "https://172.16.5.4/hooks": "172.16.5.4 is a private address",
    "https://192.168.1.10/hooks": "192.168.1.10 is a private address",
    "https://127.0.0.1:8443/hooks": "127.0.0.1 is a loopback address",
    "https://[::1]/hooks": "::1 is a loopback address",
    "https://[fe80::1]/hooks": "fe80::1 is a link-local address",
    "https://169.254.169.254/latest/meta-data": "169.254.169.254 is a link-local address",
    "https://0.0.0.0/hooks": "0.0.0.0 is an unspecified address",
    "https://[::ffff:127.0.0.1]/hooks": "::ffff:7f00:1 (IPv4 127.0.0.1) is a loopback",
    "https://224.0.0.1/hooks": "224.0.0.1 is a multicast address",
    "https://240.0.0.1/hooks": "240.0.0.1 is a reserved address",
    "https://localhost/hooks": "localhost resolves to",
}


@pytest.fixture(scope="module")
def live_api(cobro: CobroProcesses, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second `cobro api` on the same database, with live mode's webhook URL policy."""
    port = free_port()
    root: Path = tmp_path_factory.mktemp("live-api")
    stack = CobroProcesses(
        root,
        {**cobro.env, **LIVE, "COBRO_API_PORT": str(port)},
        f"http://127.0.0.1:{port}",
        cobro.sim_url,
    )
    stack.start_role("api")
    try:
        stack.wait_http(f"{stack.api_url}/healthz")
        yield stack.api_url
    finally:
        stack.stop()


@pytest.fixture
async def live(live_api: str, merchant: tuple[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    async with httpx.AsyncClient(base_url=live_api, headers=headers, timeout=30) as client:
        yield client


async def _register(client: httpx.AsyncClient, url: str) -> httpx.Response:
    return await client.post("/v1/webhook-endpoints", json={"url": url, "events": ["*"]})


@pytest.mark.parametrize(("url", "reason"), REFUSED.items())
async def test_live_mode_refuses_every_non_public_destination(
    live: httpx.AsyncClient, url: str, reason: str
) -> None:
    response = await _register(live, url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:cobro:problem:webhook-url-refused"
    assert reason in problem["detail"], problem["detail"]
    assert (await live.get("/v1/webhook-endpoints")).json()["data"] == []


async def test_live_mode_takes_https_only_and_public_addresses(live: httpx.AsyncClient) -> None:
    plain = await _register(live, "http://93.184.216.34/hooks")
    assert plain.status_code == 422
    assert plain.json()["type"] == "urn:cobro:problem:webhook-url-refused"
    assert "https only" in plain.json()["detail"]
    assert (await _register(live, "https://93.184.216.34/hooks")).status_code == 201
    # A name that does not resolve yet is taken: every delivery checks it again.
    assert (await _register(live, "https://hooks.example.invalid/h")).status_code == 201


async def test_simulator_mode_still_allows_loopback_but_not_metadata(
    api: httpx.AsyncClient,
) -> None:
    assert (await _register(api, "http://127.0.0.1:9/hooks")).status_code == 201
    metadata = await _register(api, "http://169.254.169.254/latest/meta-data")
    assert metadata.status_code == 422
    assert "169.254.169.254 is a link-local address" in metadata.json()["detail"]


async def test_a_name_that_now_resolves_to_a_refused_address_is_not_sent(
    api: httpx.AsyncClient,
    merchant: tuple[str, str],
    sessions: async_sessionmaker[AsyncSession],
    temporal_client: Client,
    settings: Settings,
) -> None:
    answers = {"merchant.test": ["93.184.216.34"]}

    async def resolver(host: str, port: int) -> list[str]:
        return answers[host]

    async with merchant_receiver() as receiver:
        url = f"http://merchant.test:{receiver.port}/hooks"
        endpoint = (await _register(api, url)).json()
        payment = (await create(api, OXXO_BODY)).json()
        async with sessions.begin() as session:  # an event, not handed to the real worker
            [(delivery_id, _)] = await webhooks_repo.record_event(
                session,
                f"evt_{uuid.uuid4().hex}",
                merchant[0],
                payment["id"],
                "payment.succeeded",
                {"type": "payment.succeeded"},
                datetime.now(UTC),
            )

        async with httpx.AsyncClient() as http:

            def activities(allow_private: bool) -> MerchantWebhookActivities:
                return MerchantWebhookActivities(
                    sessions,
                    temporal_client,
                    SecretBox(settings.cobro_secret_key.get_secret_value()),
                    http,
                    0.5,
                    60,
                    policy=UrlPolicy(https_only=False, allow_private=allow_private),
                    resolver=resolver,
                )

            # Simulator policy, the name pinned to the receiver's address: sent, Host kept.
            answers["merchant.test"] = ["127.0.0.1"]
            assert await activities(True).deliver(delivery_id) == "delivered"
            assert receiver.received[0].headers["host"] == f"merchant.test:{receiver.port}"
            # Strict policy: the same name now resolves to loopback (and a public address).
            answers["merchant.test"] = ["93.184.216.34", "127.0.0.1"]
            async with sessions.begin() as session:
                await webhooks_repo.set_delivery_status(session, delivery_id, "pending")
            with pytest.raises(Exception, match="not sent"):
                await activities(False).deliver(delivery_id)

    assert len(receiver.received) == 1
    listed = (await api.get(f"/v1/webhook-endpoints/{endpoint['id']}/deliveries")).json()
    [delivery] = listed["data"]
    refused = delivery["attempts"][-1]
    assert refused["status_code"] is None
    assert "merchant.test resolves to 127.0.0.1, a loopback address" in refused["error"]
