"""MoonPay (crypto on-ramp) end to end through the real processes: the quote and hosted page in
the instructions, the two legs (fiat in -> processing, crypto out -> succeeded), a failed
delivery whose fiat MoonPay refunds, an expired quote, a rejected identity check, a void, the
Moonpay-Signature-V2 check at the receiver, polling when every webhook is lost, and the adapter
against the simulator (one purchase per payment however often create is retried)."""

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import WebhookInbox
from cobro.domain.ids import new_id
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import CryptoDetails, Customer, PaymentInput
from cobro.psp.errors import PspRejected
from cobro.psp.moonpay import signature
from cobro.psp.moonpay.adapter import MoonpayAdapter
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.moonpay.config import SIMULATOR_MOONPAY_API_KEY, SIMULATOR_MOONPAY_WEBHOOK_KEY
from tests.e2e.helpers import charge, create, events, wait_for_status, wait_until
from tests.stack import CobroProcesses

WALLET = "0xc216eD2D6c295579718dbd4a797845CdA70B3C36"
CRYPTO_BODY: dict[str, Any] = {
    "amount": 50_000,
    "currency": "MXN",
    "method": "crypto",
    "customer": {"name": "Ana López", "email": "ana@example.mx"},
    "description": "Order 7",
    "metadata": {"order_id": "7"},
    "crypto": {"currency_code": "usdc", "wallet_address": WALLET},
}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def pay(sim: httpx.AsyncClient, reference: str, **options: Any) -> dict[str, Any]:
    response = await sim.post("/_sim/pay", json={"psp_reference": reference, **options})
    assert response.status_code == 200, response.text
    paid: dict[str, Any] = response.json()
    return paid


async def created(api: httpx.AsyncClient, body: dict[str, Any] = CRYPTO_BODY) -> dict[str, Any]:
    response = await create(api, body)
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    assert payment["status"] == "awaiting_payment", payment
    return payment


def transitions(log: list[dict[str, Any]]) -> list[tuple[str | None, str, str]]:
    return [
        (e["from_status"], e["to_status"], e["source"]) for e in log if e["type"] == "transition"
    ]


async def test_a_crypto_payment_end_to_end(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    key = "crypto-order-7"
    response = await create(api, CRYPTO_BODY, key)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["psp"], payment["status"]) == ("moonpay", "awaiting_payment")
    reference = payment["psp_reference"]
    shown = payment["instructions"]
    assert shown["type"] == "crypto" and shown["reference"] == reference
    assert shown["hosted_url"].endswith(f"/moonpay/checkout/{reference}")
    assert shown["wallet_address"] == WALLET
    quote = shown["quote"]
    assert quote["currency_code"] == "usdc" and float(quote["crypto_amount"]) > 0
    assert float(quote["rate"]) > 0
    # 500 MXN less fees, at the locked rate.
    assert float(quote["crypto_amount"]) * float(quote["rate"]) < 500
    # Crypto payments expire in 30 minutes by default, never after their quote.
    expires_at = _at(shown["expires_at"])
    assert expires_at <= _at(quote["expires_at"])
    assert _at(payment["created_at"]) + timedelta(minutes=29) < expires_at
    assert expires_at <= _at(payment["created_at"]) + timedelta(minutes=31)
    async with httpx.AsyncClient() as browser:
        assert (await browser.get(shown["hosted_url"])).status_code == 200

    # Idempotent: the same key gives the same payment, and MoonPay saw one purchase.
    again = await create(api, CRYPTO_BODY, key)
    assert again.status_code == 200 and again.json()["id"] == payment["id"]
    purchase = await charge(sim, reference)
    assert (purchase["psp"], purchase["method"], purchase["status"]) == (
        "moonpay",
        "crypto",
        "pending",
    )
    assert purchase["idempotency_key"] == payment["id"]  # externalTransactionId
    assert (purchase["create_calls"], purchase["amount"]) == (1, 50_000)

    paid = await pay(sim, reference)
    assert paid["outcome"] == "fiat received; crypto delivery in progress"
    assert paid["amount_paid"] == 50_000
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == 50_000 and done["failure_reason"] is None
    log = await events(api, payment["id"])
    assert transitions(log) == [
        (None, "pending", "api"),
        ("pending", "awaiting_payment", "api"),
        ("awaiting_payment", "processing", "psp_webhook"),
        ("processing", "succeeded", "psp_webhook"),
    ]
    fiat_leg, crypto_leg = (e["detail"] for e in log[-2:])
    assert "payment success" in fiat_leg and "delivery in_progress" in fiat_leg
    assert "delivery success" in crypto_leg and "; tx 0x" in crypto_leg
    assert (await charge(sim, reference))["status"] == "completed"

    refund = await api.post(
        f"/v1/payments/{payment['id']}/refunds", json={}, headers={"Idempotency-Key": "r1"}
    )
    assert refund.status_code == 422 and "moonpay cannot refund" in refund.json()["detail"]


async def test_a_failed_delivery_fails_the_payment_and_moonpay_refunds_the_fiat(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    paid = await pay(sim, payment["psp_reference"], fail="delivery")
    assert paid["outcome"] == "fiat received; crypto delivery will fail"
    failed = await wait_for_status(api, payment["id"], "failed")
    assert failed["failure_reason"] == (
        "moonpay delivery stage failed: error; MoonPay refunded 500.00 MXN to the customer"
    )
    assert transitions(await events(api, payment["id"]))[-2:] == [
        ("awaiting_payment", "processing", "psp_webhook"),
        ("processing", "failed", "psp_webhook"),
    ]
    ledger = await charge(sim, payment["psp_reference"])
    assert (ledger["status"], ledger["amount_paid"], ledger["amount_refunded"]) == (
        "failed",
        50_000,
        50_000,
    )


@pytest.fixture
async def short_quotes(sim: httpx.AsyncClient) -> AsyncIterator[None]:
    assert (await sim.put("/_sim/moonpay", json={"quote_ttl_seconds": 2})).status_code == 200
    yield
    await sim.put("/_sim/moonpay", json={})


@pytest.mark.usefixtures("short_quotes")
async def test_a_quote_that_expires_before_the_customer_pays_expires_the_payment(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)  # asks for 30 minutes; the quote lives 2 seconds
    shown = payment["instructions"]
    assert shown["expires_at"] == shown["quote"]["expires_at"]
    assert _at(shown["expires_at"]) - _at(payment["created_at"]) < timedelta(seconds=10)
    assert _at(payment["expires_at"]) == _at(shown["expires_at"])
    expired = await wait_for_status(api, payment["id"], "expired", timeout_s=30)
    assert expired["amount_received"] == 0
    ledger = await wait_until(
        lambda: _failed(sim, payment["psp_reference"]), "the purchase to fail at MoonPay"
    )
    assert ledger["amount_paid"] == 0
    # Paying now is refused at MoonPay's page: no money moves, nothing changes.
    late = await pay(sim, payment["psp_reference"])
    assert late["outcome"].startswith("not charged: the purchase is failed")
    assert late["amount_paid"] == 0
    assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "expired"


async def _failed(sim: httpx.AsyncClient, reference: str) -> dict[str, Any] | None:
    ledger = await charge(sim, reference)
    return ledger if ledger["status"] == "failed" else None


async def test_a_rejected_identity_check_fails_the_payment(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    payment = await created(api)
    paid = await pay(sim, payment["psp_reference"], fail="verification")
    assert paid["outcome"] == "identity verification failed; nothing was charged"
    failed = await wait_for_status(api, payment["id"], "failed")
    assert failed["failure_reason"] == (
        "moonpay verification stage failed: identity_verification_failed; nothing was charged"
    )
    assert failed["amount_received"] == 0
    log = await events(api, payment["id"])
    assert transitions(log)[-2:] == [
        ("awaiting_payment", "processing", "psp_webhook"),
        ("processing", "failed", "psp_webhook"),
    ]
    assert "identity pending" in log[-2]["detail"]

    async def identity_events() -> list[WebhookInbox] | None:
        async with sessions() as session:
            rows = list(
                await session.scalars(
                    select(WebhookInbox).where(
                        WebhookInbox.psp == "moonpay",
                        WebhookInbox.payment_id == payment["id"],
                        WebhookInbox.event_type == "customer.identity_status_updated",
                    )
                )
            )
        return rows if len(rows) == 2 else None

    # Every KYC status change is recorded with the payment it belongs to.
    rows = await wait_until(identity_events, "both identity events to be stored")
    statuses = sorted(json.loads(r.raw_body)["data"]["identityStatus"] for r in rows)
    assert statuses == ["failed", "pending"]
    assert all(r.forwarded_at is not None for r in rows)
    # Stored in the form the workflow receives (about the purchase, not the customer), so a
    # resend by the inbox sweep is the same event the fast path forwarded.
    assert all(r.event and r.event["psp_reference"] == payment["psp_reference"] for r in rows)
    ledger = await charge(sim, payment["psp_reference"])
    assert (ledger["status"], ledger["amount_paid"]) == ("failed", 0)


async def test_a_verified_customer_then_pays_and_gets_the_crypto(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    await pay(sim, payment["psp_reference"], kyc=True)
    await wait_for_status(api, payment["id"], "succeeded")
    assert [s for _, s, _ in transitions(await events(api, payment["id"]))][-2:] == [
        "processing",
        "succeeded",
    ]


async def test_an_unstarted_crypto_payment_can_be_canceled(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    ledger = await charge(sim, payment["psp_reference"])
    assert ledger["status"] == "failed" and ledger["amount_paid"] == 0


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"crypto": None}, "body.crypto", "crypto payments need `crypto`"),
        ({"method": "oxxo"}, "body.crypto", "applies only to method 'crypto'"),
        ({"crypto": {"currency_code": "btc", "wallet_address": WALLET}}, "body.crypto", "btc"),
        ({"crypto": {"currency_code": "doge", "wallet_address": WALLET}}, "body.crypto", ""),
        ({"crypto": {"currency_code": "usdc"}}, "body.crypto.wallet_address", ""),
        ({"amount": 19_999}, "body.amount", "20000"),
        ({"expires_in": 86_401}, None, "86400"),
    ],
    ids=["no-wallet", "not-crypto", "wrong-address", "currency", "no-address", "min", "expiry"],
)
async def test_invalid_crypto_payments_are_422(
    api: httpx.AsyncClient, change: dict[str, Any], field: str | None, words: str
) -> None:
    response = await create(api, {**CRYPTO_BODY, **change})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert words in problem["detail"] + json.dumps(problem.get("errors"))
    if field is not None:
        assert any(e["field"].startswith(field) for e in problem["errors"]), problem


async def test_the_receiver_checks_moonpays_signature(api: httpx.AsyncClient) -> None:
    body = json.dumps(
        {
            "id": f"evt_sig_{time.time_ns()}",
            "type": "customer.identity_status_updated",
            "timestamp": "2026-01-29T14:30:50Z",
            "data": {"id": "cus_nobody", "externalCustomerId": "pay_nobody"},
        }
    ).encode()

    async def post(header: str | None) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if header is not None:
            headers[signature.HEADER] = header
        return await api.post("/webhooks/moonpay", content=body, headers=headers)

    key = SIMULATOR_MOONPAY_WEBHOOK_KEY
    assert (await post(None)).status_code == 401
    assert (await post(signature.sign(body, "wk_test_forged"))).status_code == 401
    assert (await post(signature.sign(body, key, int(time.time()) - 301))).status_code == 401
    accepted = await post(signature.sign(body, key))
    assert accepted.status_code == 200 and accepted.json() == {"received": True, "matched": False}
    garbage = b"{not json"
    response = await api.post(
        "/webhooks/moonpay",
        content=garbage,
        headers={signature.HEADER: signature.sign(garbage, key)},
    )
    assert response.status_code == 400


async def test_with_every_webhook_lost_polling_still_finds_the_crypto_delivered(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    await sim.put("/_sim/chaos", json={"drop_rate": 1})
    await pay(sim, payment["psp_reference"])
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=40)
    assert done["amount_received"] == 50_000
    assert transitions(await events(api, payment["id"]))[-1][2] == "psp_poll"


async def test_the_adapter_never_buys_twice_for_one_payment(cobro: CobroProcesses) -> None:
    """A retried create (its answer lost) gets the first purchase back; only an untouched
    purchase can be voided, and a voided one reads as canceled."""
    payment = PaymentInput(
        payment_id=new_id("pay"),
        merchant_id="mer_contract",
        amount=50_000,
        currency="MXN",
        method=PaymentMethod.CRYPTO,
        psps=["moonpay"],
        customer=Customer(name="Ana"),
        expires_in=600,
        crypto=CryptoDetails(
            currency_code="btc", wallet_address="1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
        ),
    )
    expires_at = datetime.now(UTC) + timedelta(seconds=600)
    async with httpx.AsyncClient(timeout=10) as http:
        client = MoonpayClient(f"{cobro.sim_url}/moonpay", SIMULATOR_MOONPAY_API_KEY, http)
        adapter = MoonpayAdapter(client)
        first = await adapter.create_charge(payment, expires_at)
        again = await adapter.create_charge(payment, expires_at)
        assert first == again and first.expires_at == expires_at
        assert first.instructions["quote"]["currency_code"] == "btc"
        assert await adapter.find_charges(payment.payment_id) == [first.psp_reference]
        assert (await adapter.get_charge(first.psp_reference)).kind == "other"
        await adapter.cancel_charge(first.psp_reference)
        await adapter.cancel_charge(first.psp_reference)  # voiding twice is fine
        assert await adapter.find_charges(payment.payment_id) == []
        assert (await adapter.get_charge(first.psp_reference)).kind == "canceled"
        with pytest.raises(PspRejected, match="cannot be refunded"):
            await adapter.refund(first.psp_reference, "re_1", 50_000, None)
        wrong = MoonpayClient(f"{cobro.sim_url}/moonpay", "sk_test_wrong", http)
        with pytest.raises(PspRejected, match="4_SYS_UNAUTHORIZED"):
            await wrong.get_transaction(first.psp_reference)
    async with httpx.AsyncClient(base_url=cobro.sim_url) as sim:
        ledger = await charge(sim, first.psp_reference)
    assert (ledger["create_calls"], ledger["status"]) == (2, "failed")
    assert ledger["idempotency_key"] == payment.payment_id
