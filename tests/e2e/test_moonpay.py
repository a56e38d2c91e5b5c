"""MoonPay (crypto on-ramp) end to end through the real processes: the signed widget URL in the
instructions (checked by the simulated widget as MoonPay checks it), the purchase the customer
makes there (started -> processing, completed -> succeeded), a failed delivery, a declined
card, a rejected identity check, an unpaid payment that expires (and a purchase after it, held
as late money), a cancel before and after the customer started, the Moonpay-Signature-V2 check
at the receiver, polling when every webhook is lost, and the adapter against the simulator."""

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from cobro.domain.ids import new_id
from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import CryptoDetails, Customer, PaymentInput
from cobro.psp.errors import PspRejected
from cobro.psp.moonpay import signature
from cobro.psp.moonpay.adapter import MoonpayAdapter
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.moonpay.config import (
    SIMULATOR_MOONPAY_API_KEY,
    SIMULATOR_MOONPAY_PUBLISHABLE_KEY,
    SIMULATOR_MOONPAY_WEBHOOK_KEY,
)
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


async def buy(sim: httpx.AsyncClient, payment: dict[str, Any], **options: Any) -> dict[str, Any]:
    """The customer opens the URL the payment shows and buys in MoonPay's widget."""
    url = payment["instructions"]["hosted_url"]
    response = await sim.post("/_sim/moonpay/buy", json={"url": url, **options})
    assert response.status_code == 200, response.text
    bought: dict[str, Any] = response.json()
    return bought


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


async def purchases(sim: httpx.AsyncClient, payment_id: str) -> list[dict[str, Any]]:
    """What the simulated MoonPay holds for the payment (its externalTransactionId)."""
    charges = (await sim.get("/_sim/charges")).json()["data"]
    return [c for c in charges if c["psp"] == "moonpay" and c["idempotency_key"] == payment_id]


async def test_a_crypto_payment_end_to_end(api: httpx.AsyncClient, sim: httpx.AsyncClient) -> None:
    key = "crypto-order-7"
    response = await create(api, CRYPTO_BODY, key)
    assert response.status_code == 201, response.text
    payment = response.json()
    assert (payment["psp"], payment["status"]) == ("moonpay", "awaiting_payment")
    assert payment["psp_reference"] == payment["id"]  # the URL's externalTransactionId
    shown = payment["instructions"]
    assert shown["type"] == "crypto" and shown["reference"] == payment["id"]
    assert shown["wallet_address"] == WALLET and "widget" not in shown
    url = urlsplit(shown["hosted_url"])
    params = dict(parse_qsl(url.query))
    assert url.path.endswith("/moonpay/buy")
    assert params == {
        "apiKey": SIMULATOR_MOONPAY_PUBLISHABLE_KEY,
        "currencyCode": "usdc",
        "baseCurrencyCode": "mxn",
        "baseCurrencyAmount": "500.00",
        "lockAmount": "true",
        "externalTransactionId": payment["id"],
        "externalCustomerId": payment["id"],
        "walletAddress": WALLET,
        "signature": params["signature"],
    }
    assert url.query.rpartition("&")[2].startswith("signature=")  # last, as MoonPay requires
    # Crypto payments expire in 30 minutes by default.
    expires_at = _at(shown["expires_at"])
    assert _at(payment["created_at"]) + timedelta(minutes=29) < expires_at
    assert expires_at <= _at(payment["created_at"]) + timedelta(minutes=31)
    async with httpx.AsyncClient() as browser:  # the widget loads: the signature checks out
        page = await browser.get(shown["hosted_url"])
        assert page.status_code == 200 and "not started" in page.text
        forged = shown["hosted_url"].replace("500.00", "5.00")
        assert (await browser.get(forged)).status_code == 400
    assert await purchases(sim, payment["id"]) == []  # nothing exists until the customer buys

    again = await create(api, CRYPTO_BODY, key)
    assert again.status_code == 200 and again.json()["id"] == payment["id"]
    assert again.json()["instructions"]["hosted_url"] == shown["hosted_url"]

    bought = await buy(sim, payment)
    assert bought["outcome"] == "card charged; crypto delivery in progress"
    assert (bought["amount"], bought["amount_paid"]) == (50_000, 50_000)
    done = await wait_for_status(api, payment["id"], "succeeded")
    assert done["amount_received"] == 50_000 and done["failure_reason"] is None
    log = await events(api, payment["id"])
    assert transitions(log) == [
        (None, "pending", "api"),
        ("pending", "awaiting_payment", "api"),
        ("awaiting_payment", "processing", "psp_webhook"),
        ("processing", "succeeded", "psp_webhook"),
    ]
    started, completed = (e["detail"] for e in log[-2:])
    assert f"pending: transaction {bought['id']}" in started
    assert f"completed: transaction {bought['id']}; tx 0x" in completed
    assert [p["status"] for p in await purchases(sim, payment["id"])] == ["completed"]
    # The URL cannot buy twice while a purchase stands.
    assert (await buy(sim, payment))["outcome"] == "not charged: a purchase is completed"

    refund = await api.post(
        f"/v1/payments/{payment['id']}/refunds", json={}, headers={"Idempotency-Key": "r1"}
    )
    assert refund.status_code == 422 and "moonpay cannot refund" in refund.json()["detail"]


async def test_a_failed_delivery_fails_the_payment_and_moonpay_returns_the_fiat(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    bought = await buy(sim, payment, fail="delivery")
    assert bought["outcome"] == "card charged; crypto delivery will fail"
    failed = await wait_for_status(api, payment["id"], "failed")
    assert failed["failure_reason"] == f"moonpay purchase {bought['id']} failed: delivery_failed"
    assert failed["amount_received"] == 0
    assert transitions(await events(api, payment["id"]))[-2:] == [
        ("awaiting_payment", "processing", "psp_webhook"),
        ("processing", "failed", "psp_webhook"),
    ]
    ledger = await charge(sim, bought["id"])
    assert (ledger["status"], ledger["amount_paid"], ledger["amount_refunded"]) == (
        "failed",
        50_000,
        50_000,
    )


@pytest.mark.parametrize(
    ("fail", "reason"),
    [
        ("verification", "identity_verification_failed"),
        ("payment", "payment_authorization_declined"),
    ],
)
async def test_a_rejected_identity_or_card_fails_the_payment_with_nothing_charged(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, fail: str, reason: str
) -> None:
    payment = await created(api)
    bought = await buy(sim, payment, fail=fail)
    assert bought["outcome"] == f"{fail} failed; nothing was charged"
    failed = await wait_for_status(api, payment["id"], "failed")
    assert failed["failure_reason"] == f"moonpay purchase {bought['id']} failed: {reason}"
    assert failed["amount_received"] == 0
    assert transitions(await events(api, payment["id"]))[-2:] == [
        ("awaiting_payment", "processing", "psp_webhook"),
        ("processing", "failed", "psp_webhook"),
    ]
    ledger = await charge(sim, bought["id"])
    assert (ledger["status"], ledger["amount_paid"]) == ("failed", 0)

    # A failed payment shows no widget URL any more; a customer who kept it and buys again is
    # late money, held for ops (cobro cannot refund at MoonPay), never a failed payment's
    # silent balance.
    assert "hosted_url" not in failed["instructions"]
    await buy(sim, payment)

    async def held() -> dict[str, Any] | None:
        late = [e for e in await events(api, payment["id"]) if e["type"] == "late_payment"]
        return late[0] if late else None

    late = await wait_until(held, "the purchase after the failure to be recorded")
    assert late["detail"].startswith("50000 centavos arrived while failed; held for ops")
    shown = (await api.get(f"/v1/payments/{payment['id']}")).json()
    assert (shown["status"], shown["amount_received"]) == ("failed", 50_000)  # received, held


async def test_an_unpaid_payment_expires_and_a_purchase_after_it_is_held_as_late_money(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api, {**CRYPTO_BODY, "expires_in": 2})
    expired = await wait_for_status(api, payment["id"], "expired", timeout_s=30)
    assert expired["amount_received"] == 0
    assert await purchases(sim, payment["id"]) == []  # nothing to void at MoonPay
    # The signed URL still opens MoonPay's widget (MoonPay gives it no expiry): a purchase now
    # is late money, held for ops since cobro cannot refund at MoonPay.
    await buy(sim, payment)

    async def held() -> dict[str, Any] | None:
        late = [e for e in await events(api, payment["id"]) if e["type"] == "late_payment"]
        return late[0] if late else None

    late = await wait_until(held, "the late purchase to be recorded")
    assert late["detail"].startswith("50000 centavos arrived while expired; held for ops")
    assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "expired"


async def test_an_unstarted_crypto_payment_can_be_canceled(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    canceled = await api.post(f"/v1/payments/{payment['id']}/cancel")
    assert canceled.status_code == 200 and canceled.json()["status"] == "canceled"
    assert await purchases(sim, payment["id"]) == []


async def test_a_started_purchase_cannot_be_canceled(
    api: httpx.AsyncClient, sim: httpx.AsyncClient
) -> None:
    payment = await created(api)
    await sim.put("/_sim/chaos", json={"drop_rate": 1})  # cobro learns of it only by asking
    await buy(sim, payment)
    response = await api.post(f"/v1/payments/{payment['id']}/cancel")
    await sim.put("/_sim/chaos", json={})
    assert response.status_code == 409, response.text
    assert (await api.get(f"/v1/payments/{payment['id']}")).json()["status"] == "processing"
    await wait_for_status(api, payment["id"], "succeeded", timeout_s=40)


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
    nobody = f"pay_nobody_{time.time_ns()}"
    transaction = {
        "id": f"tx-{nobody}",
        "status": "pending",
        "updatedAt": "2026-01-29T14:30:50.000Z",
        "externalTransactionId": nobody,
    }
    body = json.dumps(
        {"type": "transaction_created", "data": transaction, "externalCustomerId": nobody}
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
    await buy(sim, payment)
    done = await wait_for_status(api, payment["id"], "succeeded", timeout_s=40)
    assert done["amount_received"] == 50_000
    assert transitions(await events(api, payment["id"]))[-1][2] == "psp_poll"


async def test_the_adapter_makes_no_purchase_and_cancels_only_what_nobody_started(
    cobro: CobroProcesses,
) -> None:
    """Create makes no call (a retry gives the same charge); before the customer starts, get
    sees nothing and cancel has nothing to void; the documented reads need the secret key."""
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
        assert first == await adapter.create_charge(payment, expires_at)
        assert (first.psp_reference, first.expires_at) == (payment.payment_id, expires_at)
        assert first.instructions["widget"]["currencyCode"] == "btc"
        assert "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2" not in json.dumps(first.instructions)
        assert await adapter.find_charges(payment.payment_id) == []
        unstarted = await adapter.get_charge(first.psp_reference)
        assert (unstarted.kind, unstarted.psp_status) == ("other", "no purchase started at MoonPay")
        await adapter.cancel_charge(first.psp_reference)  # nothing to void: no call fails
        assert await client.find_transactions(payment.payment_id) == []
        with pytest.raises(PspRejected, match="cannot be refunded"):
            await adapter.refund(first.psp_reference, "re_1", 50_000, None)
        with pytest.raises(PspRejected, match="4_TRANSACTION_NOT_FOUND"):
            await client.get_transaction("00000000-0000-0000-0000-000000000000")
        wrong = MoonpayClient(f"{cobro.sim_url}/moonpay", "sk_test_wrong", http)
        with pytest.raises(PspRejected, match="4_SYS_UNAUTHORIZED"):
            await wrong.find_transactions(payment.payment_id)


async def test_the_adapter_reads_a_started_purchase_and_refuses_to_cancel_it(
    api: httpx.AsyncClient, sim: httpx.AsyncClient, cobro: CobroProcesses
) -> None:
    payment = await created(api)
    await sim.put("/_sim/chaos", json={"drop_rate": 1})  # hold the journey at its first step
    try:
        bought = await buy(sim, payment)
        async with httpx.AsyncClient(timeout=10) as http:
            client = MoonpayClient(f"{cobro.sim_url}/moonpay", SIMULATOR_MOONPAY_API_KEY, http)
            adapter = MoonpayAdapter(client)
            seen = await adapter.get_charge(payment["id"])
            assert (seen.kind, seen.psp_reference) == ("processing", payment["id"])
            with pytest.raises(PspRejected, match="MoonPay offers merchants no way to cancel"):
                await adapter.cancel_charge(payment["id"])
            one = await client.get_transaction(bought["id"])
            assert (one["externalTransactionId"], one["walletAddress"]) == (payment["id"], WALLET)
    finally:
        await sim.put("/_sim/chaos", json={})
    await wait_for_status(api, payment["id"], "succeeded", timeout_s=40)
