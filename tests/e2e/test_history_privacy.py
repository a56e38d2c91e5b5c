"""What Temporal keeps of a payment, read as anyone with access to Temporal reads it: the real
`temporal` CLI, no codec. Every string of `workflow show --output json` and `workflow describe
--output json` is searched as it is and base64-decoded (payload data and metadata are base64),
for every field of the customer (cobro.domain.payment.Customer), the wallet address, the
description and the metadata values."""

import asyncio
import base64
import binascii
import json
import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
from google.protobuf import json_format
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter

from cobro.devstack.temporal import installed_binary
from cobro.domain.ids import workflow_id
from cobro.domain.payment import Customer
from tests.e2e.helpers import OXXO_BODY, create, wait_for_status
from tests.e2e.test_moonpay import CRYPTO_BODY, WALLET, buy
from tests.stack import CobroProcesses, Servers

ENCRYPTED = base64.b64encode(b"binary/encrypted").decode()


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(path, string) for every string in a JSON document, keys included."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key
            yield from strings(item, f"{path}.{key}")


def readings(text: str) -> list[bytes]:
    """The string as it is, and base64-decoded when it is base64."""
    found = [text.encode()]
    try:
        found.append(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError):
        pass
    return found


def leaks(document: Any, secrets: list[str]) -> list[str]:
    return [
        f"{secret!r} at {path}"
        for path, text in strings(document)
        for reading in readings(text)
        for secret in secrets
        if secret.encode() in reading
    ]


def encrypted_payloads(document: Any) -> int:
    return sum(
        1 for path, text in strings(document) if path.endswith(".encoding") and text == ENCRYPTED
    )


async def temporal_cli(servers: Servers, *args: str) -> Any:
    """`temporal ARGS --output json` against the test server, without any codec."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_")}
    process = await asyncio.create_subprocess_exec(
        installed_binary("temporal"),
        *args,
        "--address",
        servers.temporal_address,
        "--namespace",
        "default",
        "--output",
        "json",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return json.loads(out)


def test_the_search_finds_a_customer_in_a_history_written_without_the_codec() -> None:
    """The search itself works: an unencrypted payload (the recorded histories' kind) leaks."""
    converter: DataConverter = pydantic_data_converter
    [payload] = converter.payload_converter.to_payloads([{"customer": {"email": "x@example.mx"}}])
    exported = {"input": {"payloads": [json_format.MessageToDict(payload)]}}
    assert leaks(exported, ["x@example.mx"]) == ["'x@example.mx' at .input.payloads[0].data"]


async def test_history_and_describe_carry_no_customer_field_without_the_codec(
    servers: Servers, cobro: CobroProcesses, api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    unique = uuid.uuid4().hex[:8]
    phone = f"+5255{int(unique, 16) % 10**8:08d}"
    customer = {
        "name": f"Ximena Privada {unique}",
        "email": f"ximena.{unique}@example.mx",
        "phone": phone,
    }
    assert set(customer) == set(Customer.model_fields)  # every field the customer has
    description, order = f"Pedido secreto {unique}", f"orden-{unique}"
    oxxo = (
        await create(
            api,
            {
                **OXXO_BODY,
                "psp": "conekta",  # the PSP that is sent the phone
                "customer": customer,
                "description": description,
                "metadata": {"order_id": order},
            },
        )
    ).json()
    crypto = (await create(api, {**CRYPTO_BODY, "customer": customer})).json()
    for payment in (oxxo, crypto):
        assert payment["status"] == "awaiting_payment", payment
    await sim.post("/_sim/pay", json={"psp_reference": oxxo["psp_reference"]})
    await buy(sim, crypto)  # in MoonPay's widget, at the signed URL naming the wallet
    for payment in (oxxo, crypto):
        await wait_for_status(api, payment["id"], "succeeded")

    url_signature = unquote(crypto["instructions"]["hosted_url"].rpartition("&signature=")[2])
    secrets = [
        *customer.values(),
        phone[3:],
        description,
        order,
        WALLET,
        WALLET.lower(),
        unique,
        url_signature,
    ]
    for payment in (oxxo, crypto):
        wf = workflow_id(payment["id"])
        history = await temporal_cli(servers, "workflow", "show", "--workflow-id", wf)
        described = await temporal_cli(servers, "workflow", "describe", "--workflow-id", wf)
        assert described["workflowExecutionInfo"]["execution"]["workflowId"] == wf
        assert leaks(history, secrets) == [], f"{wf}: history"
        assert leaks(described, secrets) == [], f"{wf}: describe"
        # What was searched is the real, encrypted history.
        assert len(history["events"]) > 5 and encrypted_payloads(history) > 5
