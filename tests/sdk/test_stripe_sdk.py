"""Stripe's official SDK (`stripe` 16.x) makes every call cobro's Stripe client makes
(cobro/psp/stripe/client.py, the reconciliation's balance transactions) against the simulator,
with the API version cobro pins. Stripe's objects take any field at run time, so every answer
is checked against the types stripe-python declares for it (tests/sdk/stripe_types.py), and
each test asserts the values of the fields cobro reads."""

import asyncio
import time
import uuid
from typing import Any, cast

import httpx
import pytest
import stripe
from stripe.params import PaymentIntentCreateParams

from cobro.psp.stripe.client import STRIPE_VERSION, StripeClient
from cobro.psp.stripe.config import SIMULATOR_STRIPE_API_KEY
from tests.sdk.stripe_types import object_errors
from tests.stack import CobroProcesses

AMOUNT = 25_000


@pytest.fixture(scope="module")
def client(cobro: CobroProcesses) -> stripe.StripeClient:
    return stripe.StripeClient(
        SIMULATOR_STRIPE_API_KEY,
        base_addresses={"api": f"{cobro.sim_url}/stripe"},
        stripe_version=STRIPE_VERSION,
        max_network_retries=0,
    )


def judged(obj: stripe.StripeObject, cls: type) -> None:
    """Every field the simulator sent has the type stripe-python declares for it."""
    assert isinstance(obj, cls)
    assert object_errors(obj.to_dict(), cls) == []


def _create_intent(
    client: stripe.StripeClient, payment_id: str, method: dict[str, Any]
) -> stripe.PaymentIntent:
    """cobro's create at the version it pins: stripe-python 16's types follow a newer API
    version, which renamed `payment_method_types` to `allowed_payment_method_types`."""
    params = cast(PaymentIntentCreateParams, {**_intent_params(payment_id), **method})
    return client.v1.payment_intents.create(
        params, options={"idempotency_key": f"cobro-payment-{payment_id}"}
    )


def _intent_params(payment_id: str) -> dict[str, Any]:
    return {
        "amount": AMOUNT,
        "currency": "mxn",
        "confirm": True,
        "description": "Pedido 1",
        "metadata": {"cobro_payment_id": payment_id},
    }


def _spei(client: stripe.StripeClient, payment_id: str) -> stripe.PaymentIntent:
    customer = client.v1.customers.create(
        params={
            "name": "Ana López",
            "email": "ana@example.com",
            "metadata": {"cobro_payment_id": payment_id},
        },
        options={"idempotency_key": f"cobro-customer-{payment_id}"},
    )
    judged(customer, stripe.Customer)
    assert customer.id.startswith("cus_")
    return _create_intent(
        client,
        payment_id,
        {
            "customer": customer.id,
            "payment_method_types": ["customer_balance"],
            "payment_method_data": {"type": "customer_balance"},
            "payment_method_options": {
                "customer_balance": {
                    "funding_type": "bank_transfer",
                    "bank_transfer": {"type": "mx_bank_transfer"},
                }
            },
        },
    )


_OXXO_METHOD = {
    "payment_method_types": ["oxxo"],
    "payment_method_data": {
        "type": "oxxo",
        "billing_details": {"name": "Ana López", "email": "ana@example.com"},
    },
    "payment_method_options": {"oxxo": {"expires_after_days": 3}},
}


def _oxxo(client: stripe.StripeClient, payment_id: str) -> stripe.PaymentIntent:
    return _create_intent(client, payment_id, _OXXO_METHOD)


def _pay(cobro: CobroProcesses, reference: str, amount: int) -> None:
    httpx.post(
        f"{cobro.sim_url}/_sim/pay", json={"psp_reference": reference, "amount": amount}
    ).raise_for_status()


def test_spei_intent_and_customer(client: stripe.StripeClient) -> None:
    intent = _spei(client, str(uuid.uuid4()))
    judged(intent, stripe.PaymentIntent)
    assert intent.id.startswith("pi_")
    assert (intent.amount, intent.currency, intent.status) == (AMOUNT, "mxn", "requires_action")
    assert intent.next_action is not None
    assert intent.next_action.type == "display_bank_transfer_instructions"
    transfer = intent.next_action.display_bank_transfer_instructions
    assert transfer is not None and transfer.amount_remaining == AMOUNT
    assert isinstance(transfer.reference, str) and isinstance(transfer.hosted_instructions_url, str)
    assert transfer.financial_addresses is not None
    spei = next(a.spei for a in transfer.financial_addresses if a.type == "spei")
    assert spei is not None and len(spei.clabe) == 18 and spei.clabe.isdigit()
    assert isinstance(spei.bank_name, str) and isinstance(spei.account_holder_name, str)


def test_oxxo_intent_retrieve_search_cancel(client: stripe.StripeClient) -> None:
    payment_id = str(uuid.uuid4())
    intent = _oxxo(client, payment_id)
    assert intent.next_action is not None and intent.next_action.type == "oxxo_display_details"
    judged(intent, stripe.PaymentIntent)
    oxxo = intent.next_action.oxxo_display_details
    assert oxxo is not None and isinstance(oxxo.expires_after, int)
    assert oxxo.expires_after > time.time()
    assert isinstance(oxxo.number, str) and isinstance(oxxo.hosted_voucher_url, str)

    again = _oxxo(client, payment_id)  # the same Idempotency-Key: the same intent
    assert again.id == intent.id

    got = client.v1.payment_intents.retrieve(intent.id)
    judged(got, stripe.PaymentIntent)
    assert (got.id, got.status, got.amount) == (intent.id, "requires_action", AMOUNT)

    found = client.v1.payment_intents.search(
        params={"query": f"metadata['cobro_payment_id']:'{payment_id}'"}
    )
    assert isinstance(found, stripe.SearchResultObject)
    assert [i.id for i in found.data] == [intent.id] and found.has_more is False
    assert "next_page" in found and found.next_page is None
    judged(found.data[0], stripe.PaymentIntent)
    assert found.data[0].metadata["cobro_payment_id"] == payment_id

    canceled = client.v1.payment_intents.cancel(
        intent.id, params={"cancellation_reason": "abandoned"}
    )
    judged(canceled, stripe.PaymentIntent)
    assert canceled.status == "canceled" and canceled.cancellation_reason == "abandoned"
    assert isinstance(canceled.canceled_at, int)

    with pytest.raises(stripe.InvalidRequestError) as twice:  # Stripe has no no-op cancel
        client.v1.payment_intents.cancel(intent.id)
    assert twice.value.http_status == 400 and twice.value.code == "payment_intent_unexpected_state"
    assert twice.value.error is not None and twice.value.error.payment_intent is not None
    named = twice.value.error.payment_intent
    judged(named, stripe.PaymentIntent)
    assert (named.id, named.status) == (intent.id, "canceled")


def test_refunds_of_an_intent_and_of_a_cash_balance(
    client: stripe.StripeClient, cobro: CobroProcesses
) -> None:
    intent = _spei(client, str(uuid.uuid4()))
    _pay(cobro, intent.id, AMOUNT + 5_000)  # 50.00 MXN over: kept in the customer's balance
    paid = client.v1.payment_intents.retrieve(intent.id)
    judged(paid, stripe.PaymentIntent)
    assert paid.status == "succeeded" and paid.amount_received == AMOUNT

    refund_id = str(uuid.uuid4())
    refund = client.v1.refunds.create(
        params={
            "amount": 1_000,
            "payment_intent": intent.id,
            "metadata": {"cobro_refund_id": refund_id},
        },
        options={"idempotency_key": f"cobro-refund-{refund_id}"},
    )
    judged(refund, stripe.Refund)
    assert refund.id.startswith("re_")
    assert (refund.amount, refund.payment_intent) == (1_000, intent.id)
    assert refund.status in ("pending", "requires_action", "succeeded")
    assert refund.metadata is not None and refund.metadata["cobro_refund_id"] == refund_id
    got = client.v1.refunds.retrieve(refund.id)
    judged(got, stripe.Refund)
    assert (got.id, got.amount, got.status) == (refund.id, 1_000, refund.status)

    assert isinstance(intent.customer, str)
    balance_refund = client.v1.refunds.create(
        params={
            "amount": 5_000,
            "customer": intent.customer,
            "origin": "customer_balance",
            "currency": "mxn",
            "metadata": {"cobro_refund_id": f"{refund_id}-balance"},
        },
        options={"idempotency_key": f"cobro-refund-{refund_id}-balance"},
    )
    judged(balance_refund, stripe.Refund)
    assert balance_refund.amount == 5_000
    assert isinstance(balance_refund.status, str)


def test_balance_transactions_of_a_window(
    client: stripe.StripeClient, cobro: CobroProcesses
) -> None:
    """Reconciliation's report: `created[gte]`/`created[lt]`, every page, each source expanded
    to the Charge or Refund that moved the money, which names the PaymentIntent."""
    start = int(time.time()) - 1
    intent = _spei(client, str(uuid.uuid4()))
    _pay(cobro, intent.id, AMOUNT)
    refund = client.v1.refunds.create(params={"amount": 1_000, "payment_intent": intent.id})
    end = int(time.time()) + 60
    page = client.v1.balance_transactions.list(
        params={"created": {"gte": start, "lt": end}, "limit": 100, "expand": ["data.source"]}
    )
    assert isinstance(page, stripe.ListObject) and isinstance(page.has_more, bool)
    mine = [
        t for t in page.auto_paging_iter() if getattr(t.source, "payment_intent", None) == intent.id
    ]
    for line in mine:
        judged(line, stripe.BalanceTransaction)
        assert line.id.startswith("txn_") and start <= line.created
    assert [(t.type, t.reporting_category, t.amount) for t in mine] == [
        ("payment", "charge", AMOUNT),  # OXXO and bank transfers are local payment methods
        ("payment_refund", "refund", -1_000),
    ]
    paid = client.v1.payment_intents.retrieve(intent.id)
    assert isinstance(mine[0].source, stripe.Charge) and mine[0].source.id == paid.latest_charge
    assert isinstance(mine[1].source, stripe.Refund) and mine[1].source.id == refund.id

    plain = client.v1.balance_transactions.list(
        params={"created": {"gte": start, "lt": end}, "limit": 100}
    )
    sources = {t.source for t in plain.data}
    assert {paid.latest_charge, refund.id} <= sources and intent.id not in sources
    too_late = client.v1.balance_transactions.list(
        params={"created": {"gte": int(time.time()) + 3_600}, "limit": 100}
    )
    assert not [t for t in too_late.data if t.source in (paid.latest_charge, refund.id)]


def test_errors_parse_as_stripes(client: stripe.StripeClient, cobro: CobroProcesses) -> None:
    """Each error the simulator answers maps to the stripe-python error class Stripe's own
    answer would: not found, a bad key, an idempotency key reused for another request."""
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.payment_intents.retrieve("pi_doesnotexist")
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"

    wrong_key = stripe.StripeClient(
        "sk_test_wrong",
        base_addresses={"api": f"{cobro.sim_url}/stripe"},
        stripe_version=STRIPE_VERSION,
        max_network_retries=0,
    )
    with pytest.raises(stripe.AuthenticationError) as unauthorized:
        wrong_key.v1.payment_intents.retrieve("pi_doesnotexist")
    assert unauthorized.value.http_status == 401

    payment_id = str(uuid.uuid4())
    _oxxo(client, payment_id)
    with pytest.raises(stripe.IdempotencyError) as reused:
        _create_intent(client, payment_id, {"amount": AMOUNT + 1})
    assert reused.value.http_status == 400


def test_search_pages_through_every_intent_of_a_payment(
    client: stripe.StripeClient, cobro: CobroProcesses
) -> None:
    """A payment can hold several intents (failover back, ops retries); search answers them in
    pages, which the SDK's auto-paging and cobro's client both follow to the end."""
    payment_id = str(uuid.uuid4())
    made = {
        client.v1.payment_intents.create(
            cast(PaymentIntentCreateParams, {**_intent_params(payment_id), **_OXXO_METHOD}),
            options={"idempotency_key": f"cobro-payment-{payment_id}-{n}"},
        ).id
        for n in range(3)
    }
    query = f"metadata['cobro_payment_id']:'{payment_id}'"
    first = client.v1.payment_intents.search(params={"query": query, "limit": 2})
    assert len(first.data) == 2 and first.has_more is True and first.next_page
    assert {i.id for i in first.auto_paging_iter()} == made

    async def cobro_search() -> list[dict[str, Any]]:
        async with httpx.AsyncClient() as http:
            stripe_client = StripeClient(f"{cobro.sim_url}/stripe", SIMULATOR_STRIPE_API_KEY, http)
            return await stripe_client.search_payment_intents(payment_id, page_size=2)

    assert {i["id"] for i in asyncio.run(cobro_search())} == made
