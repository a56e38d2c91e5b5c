"""Logs: every line of every process is one JSON object, lines about a payment carry its
payment_id, workflow_id and trace_id, and no line anywhere holds a customer's data.

A full lifecycle with customer data no other test uses (SPEI: a partial transfer, the rest, a
refund; crypto with a wallet address; an OXXO voucher canceled; a create refused for a bad
address), then every log file of the test stack: the API, worker, simulator and codec server
(tests/stack.py writes each to `{root}/{role}.log`) and the Temporal dev server. The files hold
every earlier test's output too, so the JSON check covers all of it."""

import asyncio
import json
import secrets
from pathlib import Path
from typing import Any

import httpx

from tests.e2e.helpers import OXXO_BODY, SPEI_BODY, create, wait_for_status, wait_until
from tests.e2e.test_moonpay import buy
from tests.stack import Servers

TAG = secrets.token_hex(4)
NAME = f"Zacarías Logtest {TAG}"
EMAIL = f"zacarias.{TAG}@example.mx"
PHONE = f"+5255{secrets.randbelow(10**8):08d}"
WALLET = "0x" + secrets.token_hex(20)
DESCRIPTION = f"Pedido secreto {TAG}"
METADATA = f"order-{TAG}-meta"
CUSTOMER_DATA = (
    NAME,
    f"Logtest {TAG}",
    EMAIL,
    PHONE,
    PHONE[3:],
    WALLET,
    WALLET.lower()[2:],
    DESCRIPTION,
    METADATA,
)

CUSTOMER = {
    "customer": {"name": NAME, "email": EMAIL, "phone": PHONE},
    "description": DESCRIPTION,
    "metadata": {"order_id": METADATA},
}
CRYPTO = {
    "amount": 50_000,
    "currency": "MXN",
    "method": "crypto",
    **CUSTOMER,
    "crypto": {"currency_code": "usdc", "wallet_address": WALLET},
}


async def _created(api: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await create(api, body)
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


async def _pay(sim: httpx.AsyncClient, reference: str, **options: Any) -> None:
    response = await sim.post("/_sim/pay", json={"psp_reference": reference, **options})
    assert response.status_code == 200, response.text


async def _lifecycle(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> list[str]:
    spei = await _created(api, {**SPEI_BODY, **CUSTOMER})
    await _pay(sim, spei["psp_reference"], amount=10_000)
    await _pay(sim, spei["psp_reference"], amount=15_000)
    await wait_for_status(api, spei["id"], "succeeded")
    refund = await api.post(
        f"/v1/payments/{spei['id']}/refunds",
        json={"amount": 5_000, "reason": "damaged item"},
        headers={"Idempotency-Key": f"refund-{TAG}"},
    )
    assert refund.status_code == 201, refund.text
    await wait_for_status(api, spei["id"], "partially_refunded")

    crypto = await _created(api, CRYPTO)
    await buy(sim, crypto)  # in MoonPay's widget, at the URL that names the wallet
    await wait_for_status(api, crypto["id"], "succeeded")

    oxxo = await _created(api, {**OXXO_BODY, **CUSTOMER})
    canceled = await api.post(f"/v1/payments/{oxxo['id']}/cancel")
    assert canceled.status_code == 200, canceled.text

    wrong = {**CRYPTO, "crypto": {"currency_code": "btc", "wallet_address": WALLET}}
    assert (await create(api, wrong)).status_code == 422
    return [spei["id"], crypto["id"], oxxo["id"]]


def _json_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        try:
            parsed = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"{path.name}:{number} is not JSON: {line[:300]}") from None
        assert isinstance(parsed, dict), f"{path.name}:{number}: {line[:300]}"
        lines.append(parsed)
    return lines


def _assert_dev_server_logs_json(path: Path) -> None:
    """Every line of the dev server's log is JSON (`--log-format json`) but its start-up banner,
    printed once by the CLI: "Temporal CLI ...", "Temporal Server: ...", and so on."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("Temporal "):
            assert isinstance(json.loads(line), dict), line


async def test_logs_are_json_with_ids_and_no_customer_data(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, servers: Servers
) -> None:
    payment_ids = await _lifecycle(api, sim)
    root = servers.root

    async def logged() -> bool:  # the worker logs each transition once it is committed
        worker = (root / "worker.log").read_text(encoding="utf-8")
        return all(f'"payment_id": "{p}"' in worker for p in payment_ids)

    await wait_until(logged, "the worker's lines about the payments", 10)
    await asyncio.sleep(1)  # what is still in flight (webhook deliveries) reaches the files

    roles = ("api", "worker", "simulator", "codec-server", "temporal")
    files = {role: root / f"{role}.log" for role in roles}
    for role, path in files.items():
        text = path.read_text(encoding="utf-8")
        leaked = [value for value in CUSTOMER_DATA if value in text]
        assert leaked == [], f"{role}.log holds customer data {leaked}"
    _assert_dev_server_logs_json(files["temporal"])

    by_role = {role: _json_lines(files[role]) for role in roles if role != "temporal"}
    for role, lines in by_role.items():
        assert lines and all({"ts", "level", "service", "message"} <= set(x) for x in lines), role
    for payment_id in payment_ids:
        for role in ("api", "worker"):
            about = [x for x in by_role[role] if x.get("payment_id") == payment_id]
            assert about, f"no {role} line about {payment_id}"
            for line in about:
                assert line["workflow_id"] == f"payment-{payment_id}", line
            # Traced: the lines of a request or an activity name their trace.
            assert any(len(x.get("trace_id", "")) == 32 for x in about), (role, about)
