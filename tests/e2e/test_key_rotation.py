"""Rotating the payload key (COBRO_PAYLOAD_KEYS, cobro/payload_keys.py) on a running stack: a
payment started under key 1 keeps going and still decodes after the processes restart with
key 2 added as the encrypting key; what they write from then on is under key 2.

The stack runs in its own namespace, so its worker never meets the session stack's payloads
(encrypted under another key) and the session's worker never meets these."""

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from google.protobuf.duration_pb2 import Duration
from temporalio.api.workflowservice.v1 import RegisterNamespaceRequest
from temporalio.client import Client
from temporalio.service import RPCError

from cobro import search_attributes
from cobro.domain.ids import workflow_id
from cobro.domain.payment import PaymentInput
from cobro.payload_codec import KEY_ID, PayloadDecryptError
from cobro.payload_keys import new_key_entry
from cobro.settings import Settings
from cobro.temporal_client import connect
from tests.e2e.helpers import OXXO_BODY, create, wait_for_status, wait_until
from tests.stack import CobroProcesses, Servers, free_port, stop

K1, K2 = new_key_entry("k1"), new_key_entry("k2")


async def _namespace(servers: Servers) -> str:
    name = f"rotation-{uuid.uuid4().hex[:8]}"
    client = await Client.connect(servers.temporal_address)
    await client.workflow_service.register_namespace(
        RegisterNamespaceRequest(
            namespace=name,
            workflow_execution_retention_period=Duration(seconds=86_400),
        )
    )
    ready = await Client.connect(servers.temporal_address, namespace=name)

    async def usable() -> bool:
        try:
            await search_attributes.register(ready, name)
            await ready.count_workflows()
        except RPCError:
            return False
        return True

    await wait_until(usable, f"namespace {name}", timeout_s=60)
    return name


@pytest.fixture
async def rotating(servers: Servers) -> AsyncIterator[CobroProcesses]:
    """API, worker, simulator and codec server of a stack that starts with key 1 only."""
    namespace = await _namespace(servers)
    overrides = {
        "TEMPORAL_NAMESPACE": namespace,
        "COBRO_PAYLOAD_KEYS": K1,
        "COBRO_CODEC_PORT": str(free_port()),
    }
    stack = await asyncio.to_thread(CobroProcesses.start, servers, overrides)
    yield stack
    await asyncio.to_thread(stack.stop)


def _client_settings(servers: Servers, stack: CobroProcesses, keys: str) -> Settings:
    return Settings(
        database_url=servers.database_url,
        temporal_address=servers.temporal_address,
        temporal_namespace=stack.env["TEMPORAL_NAMESPACE"],
        cobro_payload_keys=keys,
    )


async def _key_ids(client: Client, payment_id: str) -> list[str]:
    """The key id of every encrypted payload in the payment's history, in order."""
    history = await client.get_workflow_handle(workflow_id(payment_id)).fetch_history()
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            metadata = value.get("metadata")
            if isinstance(metadata, dict) and KEY_ID in metadata:
                found.append(base64.b64decode(metadata[KEY_ID]).decode())
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(json.loads(history.to_json()))
    return found


async def _started_input(client: Client, payment_id: str) -> PaymentInput:
    """The workflow's input as that client decodes it."""
    history = await client.get_workflow_handle(workflow_id(payment_id)).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [payment] = await client.data_converter.decode(started.input.payloads, [PaymentInput])
    assert isinstance(payment, PaymentInput)
    return payment


async def test_payments_started_under_key_1_decode_after_key_2_encrypts(
    servers: Servers, rotating: CobroProcesses, merchant: tuple[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {merchant[1]}"}
    async with (
        httpx.AsyncClient(base_url=rotating.api_url, headers=headers, timeout=30) as api,
        httpx.AsyncClient(base_url=rotating.sim_url, timeout=30) as sim,
    ):
        before = (await create(api, OXXO_BODY)).json()
        assert before["status"] == "awaiting_payment", before

        # Rotation: every process restarts with key 2 appended, which now encrypts.
        for role in ("worker", "api", "codec-server"):
            await asyncio.to_thread(stop, rotating.procs[role])
        rotating.env["COBRO_PAYLOAD_KEYS"] = f"{K1},{K2}"
        for role in ("worker", "api", "codec-server"):
            rotating.start_role(role)
        await asyncio.to_thread(rotating.wait_http, f"{rotating.api_url}/healthz")
        await asyncio.to_thread(rotating.wait_http, f"{rotating.codec_url}/healthz")

        # The new worker replays the key-1 history and carries the payment on.
        await sim.post("/_sim/pay", json={"psp_reference": before["psp_reference"]})
        await wait_for_status(api, before["id"], "succeeded", timeout_s=60)
        after = (await create(api, OXXO_BODY)).json()
        assert after["status"] == "awaiting_payment", after

    rotated = await connect(_client_settings(servers, rotating, f"{K1},{K2}"))
    started_under = await _key_ids(rotated, before["id"])
    assert started_under[0] == "k1" and "k2" in started_under  # both keys in one history
    assert set(await _key_ids(rotated, after["id"])) == {"k2"}
    assert (await _started_input(rotated, before["id"])).payment_id == before["id"]
    assert (await _started_input(rotated, after["id"])).payment_id == after["id"]

    # The restarted codec server opens the key-1 input for ops too.
    history = await rotated.get_workflow_handle(workflow_id(before["id"])).fetch_history()
    started = json.loads(history.to_json())["events"][0]
    raw = started["workflowExecutionStartedEventAttributes"]["input"]
    async with httpx.AsyncClient(base_url=rotating.codec_url, timeout=10) as codec:
        token = rotating.env["COBRO_CODEC_TOKEN"]
        decoded = await codec.post(
            "/decode", json=raw, headers={"Authorization": f"Bearer {token}"}
        )
    assert decoded.status_code == 200, decoded.text
    [plain] = decoded.json()["payloads"]
    assert json.loads(base64.b64decode(plain["data"]))["payment_id"] == before["id"]

    # Without key 1 the first payment's start is closed: key 1 really was what opened it.
    only_k2 = await connect(_client_settings(servers, rotating, K2))
    with pytest.raises(PayloadDecryptError, match="'k1'"):
        await _started_input(only_k2, before["id"])
