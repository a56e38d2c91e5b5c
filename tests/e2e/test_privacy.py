"""Customer data in Temporal and PostgreSQL (issue 13): the workflow carries no customer field
in clear (the activity that calls the PSP reads them from PostgreSQL; the workflow input holds
them only sealed under the payment's own key), and erasure removes them from PostgreSQL and
shreds that key, while amounts, refunds and reconciliation keep working."""

import asyncio
import json
import secrets
import sys
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import Client

from cobro.db import privacy_repo
from cobro.db.models import Base
from cobro.domain.business_day import business_day
from cobro.domain.payment import Customer
from cobro.privacy import sealing
from cobro.secret_box import SecretBox
from cobro.settings import Settings
from tests.e2e.helpers import SPEI_BODY, create, run_cli, wait_for_status
from tests.e2e.test_moonpay import CRYPTO_BODY, WALLET
from tests.stack import CobroProcesses


def customer() -> dict[str, str]:
    """A customer with every field of Customer filled, each value unique to the test."""
    tag = secrets.token_hex(4)
    who = {
        "name": f"Lucía Erasable {tag}",
        "email": f"lucia.{tag}@example.mx",
        "phone": f"55{int(tag, 16) % 10**8:08d}",
    }
    assert set(who) == set(Customer.model_fields)
    return who


async def workflow_input(temporal: Client, payment_id: str) -> dict[str, Any]:
    history = await temporal.get_workflow_handle(f"payment-{payment_id}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    [decoded] = await temporal.data_converter.decode(list(started.input.payloads))
    assert isinstance(decoded, dict)
    payload: dict[str, Any] = decoded
    return payload


async def every_value_in_the_database(sessions: async_sessionmaker[AsyncSession]) -> str:
    """Every row of every table of cobro's, as text (bytea decoded), to search for a trace."""
    dump = []
    async with sessions() as session:
        for table in Base.metadata.sorted_tables:
            for row in await session.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    dump.append(json.dumps(value, default=str, ensure_ascii=False))
    return "\n".join(dump)


async def test_history_carries_the_customer_only_sealed_under_the_payments_key(
    api: httpx.AsyncClient,
    temporal_client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    who = customer()
    body = {**CRYPTO_BODY, "customer": who, "description": "Order for Lucía"}
    payment = (await create(api, body)).json()
    assert payment["instructions"]["wallet_address"] == WALLET  # shown from PostgreSQL

    started = await workflow_input(temporal_client, payment["id"])
    assert started["customer"] is None and started["crypto"] is None
    assert started["description"] is None and started["metadata"] == {}
    raw = json.dumps(started)
    for secret in (*who.values(), WALLET, "Order for"):
        assert secret not in raw
    history = await temporal_client.get_workflow_handle(f"payment-{payment['id']}").fetch_history()
    assert WALLET not in history.to_json()  # nor in the charge's instructions
    # MoonPay's widget URL names the wallet: it is signed as the payment is shown, from
    # PostgreSQL, and never kept in history (neither it nor its signature).
    shown_url = payment["instructions"]["hosted_url"]
    assert f"walletAddress={WALLET}" in shown_url
    signed = shown_url.rpartition("&signature=")[2]
    assert shown_url not in history.to_json() and signed not in history.to_json()

    box = SecretBox(settings.cobro_secret_key.get_secret_value())
    async with sessions() as session:
        key = await privacy_repo.key_of(session, box, payment["id"])
    assert key is not None
    sealed = sealing.unseal(key, started["private"])
    assert sealed["customer"] == who and sealed["crypto"]["wallet_address"] == WALLET


async def test_erasure_leaves_no_trace_and_the_money_still_adds_up(
    api: httpx.AsyncClient,
    sim: httpx.AsyncClient,
    cobro: CobroProcesses,
    temporal_client: Client,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> None:
    who = customer()
    payment = (
        await create(api, {**SPEI_BODY, "customer": who, "metadata": {"ref": who["email"]}})
    ).json()
    await sim.post("/_sim/pay", json={"psp_reference": payment["psp_reference"]})
    await wait_for_status(api, payment["id"], "succeeded")
    first = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 5_000},
        headers={"Idempotency-Key": f"before-{payment['id']}"},
    )
    assert first.status_code == 201, first.text
    await wait_for_status(api, payment["id"], "partially_refunded")
    before = await every_value_in_the_database(sessions)
    assert all(value in before for value in who.values())  # the search can find them

    open_one = (await create(api, {**SPEI_BODY, "customer": who})).json()
    still_open = await api.post(
        "/v1/privacy/erasures", json={"email": who["email"], "reason": "customer asked (ARCO)"}
    )
    assert still_open.status_code == 409 and open_one["id"] in still_open.json()["detail"]
    await api.post(f"/v1/payments/{open_one['id']}/cancel")
    # A crypto payment: its wallet is also in the MoonPay widget URL shown (and sent to the
    # merchant's endpoints), which erasure must not leave behind either.
    wallet = "0x" + secrets.token_hex(20)
    crypto_body = {
        **CRYPTO_BODY,
        "customer": who,
        "crypto": {"currency_code": "eth", "wallet_address": wallet},
    }
    crypto = (await create(api, crypto_body)).json()
    assert f"walletAddress={wallet}" in crypto["instructions"]["hosted_url"]
    await api.post(f"/v1/payments/{crypto['id']}/cancel")

    bad = await api.post("/v1/privacy/erasures", json={"email": who["email"]})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    erased = await api.post(
        "/v1/privacy/erasures", json={"email": who["email"], "reason": "customer asked (ARCO)"}
    )
    assert erased.status_code == 201, erased.text
    assert erased.json()["payments"] == 3  # the paid one and the two canceled ones

    seen = (await api.get(f"/v1/payments/{payment['id']}")).json()
    # Every field of the customer cleared, the name shown as erased.
    cleared = {field: None for field in Customer.model_fields} | {"name": "[erased]"}
    assert seen["customer"] == cleared and seen["metadata"] == {}
    assert (seen["status"], seen["amount_received"], seen["amount_refunded"]) == (
        "partially_refunded",
        25_000,
        5_000,
    )
    after = await every_value_in_the_database(sessions)
    assert [value for value in who.values() if value in after] == []
    assert wallet not in after and wallet.lower() not in after
    shown = (await api.get(f"/v1/payments/{crypto['id']}")).json()["instructions"]
    assert "hosted_url" not in shown and "wallet_address" not in shown
    assert "customer asked (ARCO)" in after  # the erasure is recorded: who, when and why

    # The copy in Temporal history cannot be opened any more: its key is gone.
    started = await workflow_input(temporal_client, payment["id"])
    box = SecretBox(settings.cobro_secret_key.get_secret_value())
    async with sessions() as session:
        assert await privacy_repo.key_of(session, box, payment["id"]) is None

    async def no_key(_: str) -> bytes | None:
        return None

    assert await sealing.reveal(started["private"], no_key) == sealing.ERASED

    # Refunds and reconciliation of the payment still work.
    again = await api.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={"amount": 20_000},
        headers={"Idempotency-Key": f"after-{payment['id']}"},
    )
    assert again.status_code == 201, again.text
    await wait_for_status(api, payment["id"], "refunded")
    day = business_day(datetime.now(UTC))
    await run_cli(cobro.env, "recon", "run", str(day))
    report = (await api.get(f"/v1/reconciliation/{day}")).json()
    assert sorted((x["line_type"], x["result"]) for x in report["data"]) == [
        ("charge", "matched"),
        ("refund", "matched"),
    ]


async def test_ops_erase_a_customer_of_every_merchant_from_the_cli(
    api: httpx.AsyncClient, cobro: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    who = customer()
    payment = (await create(api, {**SPEI_BODY, "customer": who})).json()
    erase = ["privacy", "erase", "--email", who["email"].upper(), "--operator", "lucia@ops"]
    erase += ["--reason", "LFPDPPP cancelation request 77"]
    # Still open (money may yet arrive): refused, naming the payment; nothing erased.
    refused = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cobro.cli", *erase, env=cobro.env, stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await refused.communicate()
    assert refused.returncode != 0 and payment["id"] in stderr.decode()
    assert who["email"] in await every_value_in_the_database(sessions)

    await api.post(f"/v1/payments/{payment['id']}/cancel")
    [line] = await run_cli(cobro.env, *erase)  # the email's case does not matter
    record = json.loads(line)
    assert record["payments"] == 1 and record["by"] == "lucia@ops"
    assert who["email"] not in line
    after = await every_value_in_the_database(sessions)
    assert [value for value in who.values() if value in after] == []
