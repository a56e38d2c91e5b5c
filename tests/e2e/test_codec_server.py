"""`cobro codec-server` as the real process the stack runs (tests/stack.py): Temporal's remote
codec protocol over HTTP, its token (bearer header or path segment), CORS for the Web UI's
origin, and precise problem+json refusals."""

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from temporalio.client import Client

from cobro.domain.ids import workflow_id
from tests.e2e.helpers import OXXO_BODY, create
from tests.stack import CobroProcesses, Servers

ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()
PLAIN = {
    "metadata": {"encoding": base64.b64encode(b"json/plain").decode()},
    "data": base64.b64encode(json.dumps({"customer": "Ana López"}).encode()).decode(),
}


@pytest.fixture
async def codec(cobro: CobroProcesses, servers: Servers) -> Any:
    headers = {"Authorization": f"Bearer {servers.codec_token}"}
    async with httpx.AsyncClient(base_url=cobro.codec_url, headers=headers, timeout=10) as c:
        yield c


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status and problem["type"] == f"urn:cobro:problem:{slug}"
    return problem


async def test_encode_then_decode_round_trips(codec: httpx.AsyncClient) -> None:
    encoded = await codec.post("/encode", json={"payloads": [PLAIN, PLAIN]})
    assert encoded.status_code == 200, encoded.text
    first, second = encoded.json()["payloads"]
    assert first["metadata"]["encoding"] == ENCRYPTED
    assert base64.b64decode(first["metadata"]["encryption-key-id"]) == b"dev1"
    assert "Ana" not in base64.b64decode(first["data"]).decode(errors="replace")
    assert first["data"] != second["data"]
    decoded = await codec.post("/decode", json={"payloads": [first, second, PLAIN]})
    assert decoded.status_code == 200, decoded.text
    assert decoded.json() == {"payloads": [PLAIN, PLAIN, PLAIN]}  # plain passes through


async def test_it_decodes_what_the_workers_wrote(
    codec: httpx.AsyncClient, api: httpx.AsyncClient, temporal_client: Client
) -> None:
    """The codec server holds the same keys as every other process of the stack."""
    payment = (await create(api, OXXO_BODY)).json()
    handle = temporal_client.get_workflow_handle(workflow_id(payment["id"]))
    started = json.loads((await handle.fetch_history()).to_json())["events"][0]
    [raw] = started["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
    assert raw["metadata"]["encoding"] == ENCRYPTED
    decoded = await codec.post("/decode", json={"payloads": [raw]})
    assert decoded.status_code == 200, decoded.text
    [plain] = decoded.json()["payloads"]
    assert json.loads(base64.b64decode(plain["data"]))["payment_id"] == payment["id"]


async def _decoded_input(codec: httpx.AsyncClient, client: Client, payment_id: str) -> Any:
    """The workflow's start input as the codec server shows it to ops."""
    handle = client.get_workflow_handle(workflow_id(payment_id))
    started = json.loads((await handle.fetch_history()).to_json())["events"][0]
    raw = started["workflowExecutionStartedEventAttributes"]["input"]
    decoded = await codec.post("/decode", json=raw)
    assert decoded.status_code == 200, decoded.text
    return json.loads(base64.b64decode(decoded.json()["payloads"][0]["data"]))


async def test_sealed_customer_details_show_until_the_customer_is_erased(
    codec: httpx.AsyncClient, api: httpx.AsyncClient, temporal_client: Client
) -> None:
    """Inside the decrypted input the customer is sealed under the payment's own key; the codec
    server opens it with that key from PostgreSQL, and shows `[erased]` once erasure deleted
    it (cobro/codec_reveal.py)."""
    email = f"sofia.{uuid.uuid4().hex[:8]}@example.mx"
    customer = {"name": "Sofía Sellada", "email": email}
    payment = (await create(api, {**OXXO_BODY, "customer": customer})).json()
    shown = await _decoded_input(codec, temporal_client, payment["id"])
    assert shown["private"]["customer"] == customer
    assert shown["private"]["description"] == OXXO_BODY["description"]

    await api.post(f"/v1/payments/{payment['id']}/cancel")  # no erasure while it is open
    erased = await api.post(
        "/v1/privacy/erasures", json={"email": email, "reason": "LFPDPPP request"}
    )
    assert erased.status_code == 201, erased.text
    shown = await _decoded_input(codec, temporal_client, payment["id"])
    assert shown["private"] == "[erased]"
    assert shown["payment_id"] == payment["id"] and shown["amount"] == OXXO_BODY["amount"]


async def test_the_token_may_be_a_path_segment_for_the_web_ui(
    cobro: CobroProcesses, servers: Servers
) -> None:
    async with httpx.AsyncClient(base_url=cobro.codec_url, timeout=10) as bare:
        url = f"/token/{servers.codec_token}/encode"
        encoded = await bare.post(url, json={"payloads": [PLAIN]})
        assert encoded.status_code == 200, encoded.text
        decoded = await bare.post(
            f"/token/{servers.codec_token}/decode?preserveStorageRefs=true", json=encoded.json()
        )
        assert decoded.json() == {"payloads": [PLAIN]}
        assert_problem(
            await bare.post("/token/not-the-token/decode", json=encoded.json()),
            401,
            "codec-token-invalid",
        )


async def test_a_missing_or_wrong_token_is_401(cobro: CobroProcesses, servers: Servers) -> None:
    async with httpx.AsyncClient(base_url=cobro.codec_url, timeout=10) as bare:
        missing = await bare.post("/decode", json={"payloads": [PLAIN]})
        assert_problem(missing, 401, "codec-token-missing")
        assert missing.headers["www-authenticate"] == 'Bearer realm="cobro-codec"'
        for auth in (
            "Bearer wrong",
            f"Basic {servers.codec_token}",
            f"Bearer {servers.codec_token}x",
        ):
            refused = await bare.post(
                "/decode", json={"payloads": [PLAIN]}, headers={"Authorization": auth}
            )
            assert_problem(
                refused,
                401,
                "codec-token-invalid" if auth.startswith("Bearer") else "codec-token-missing",
            )
        wrong = await bare.post(
            "/encode", json={"payloads": [PLAIN]}, headers={"Authorization": "Bearer wrong"}
        )
        assert 'error="invalid_token"' in wrong.headers["www-authenticate"]


async def test_cors_answers_the_web_ui_origin_and_refuses_others(
    codec: httpx.AsyncClient, cobro: CobroProcesses, servers: Servers
) -> None:
    ui = servers.temporal_ui_url
    preflight = {
        "Origin": ui,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    # The preflight carries no token (browsers never send one with it).
    async with httpx.AsyncClient(base_url=cobro.codec_url, timeout=10) as browser:
        answered = await browser.options("/decode", headers=preflight)
    assert answered.status_code == 204
    assert answered.headers["access-control-allow-origin"] == ui
    assert answered.headers["access-control-allow-methods"] == "POST"
    allowed = {
        h.strip().lower() for h in answered.headers["access-control-allow-headers"].split(",")
    }
    assert {"content-type", "x-namespace", "authorization"} <= allowed

    decoded = await codec.post("/decode", json={"payloads": [PLAIN]}, headers={"Origin": ui})
    assert decoded.status_code == 200 and decoded.headers["access-control-allow-origin"] == ui
    # A refusal is readable by the UI too (it carries the CORS headers).
    refused = await codec.post(
        "/decode",
        json={"payloads": [PLAIN]},
        headers={"Origin": ui, "Authorization": "Bearer wrong"},
    )
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == ui

    elsewhere = {**preflight, "Origin": "http://evil.example"}
    assert_problem(await codec.options("/decode", headers=elsewhere), 403, "origin-not-allowed")
    posted = await codec.post(
        "/decode", json={"payloads": [PLAIN]}, headers={"Origin": "http://evil.example"}
    )
    assert_problem(posted, 403, "origin-not-allowed")
    assert "access-control-allow-origin" not in posted.headers


async def test_bad_bodies_and_undecryptable_payloads_are_precise_4xx(
    codec: httpx.AsyncClient,
) -> None:
    assert_problem(await codec.post("/decode", content=b"{not json"), 400, "invalid-payloads")
    malformed: list[dict[str, Any]] = [
        {"payloads": "nope"},
        {"payload": []},
        {"payloads": [{"data": 5}]},
    ]
    for body in malformed:
        assert_problem(await codec.post("/decode", json=body), 400, "invalid-payloads")
    foreign = {
        "metadata": {
            "encoding": ENCRYPTED,
            "encryption-key-id": base64.b64encode(b"retired-key").decode(),
        },
        "data": base64.b64encode(b"\0" * 40).decode(),
    }
    problem = assert_problem(
        await codec.post("/decode", json={"payloads": [foreign]}), 422, "payload-undecryptable"
    )
    assert "'retired-key'" in problem["detail"]
    encoded = (await codec.post("/encode", json={"payloads": [PLAIN]})).json()["payloads"][0]
    sealed = base64.b64decode(encoded["data"])
    flipped = sealed[:-1] + bytes([sealed[-1] ^ 1])  # always a change (b"x" was one in 256 not)
    tampered = {**encoded, "data": base64.b64encode(flipped).decode()}
    assert_problem(
        await codec.post("/decode", json={"payloads": [tampered]}), 422, "payload-undecryptable"
    )
    big = b'{"payloads": [{"data": "' + b"A" * (9 * 1024 * 1024) + b'"}]}'
    assert_problem(await codec.post("/decode", content=big), 413, "too-large")
    assert_problem(await codec.get("/decode"), 405, "method-not-allowed")
    assert_problem(await codec.post("/elsewhere"), 404, "not-found")
