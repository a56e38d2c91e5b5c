"""The webhooks the simulator sends cobro, judged by the official SDKs: stripe-python verifies
the Stripe-Signature and builds the Event, whose fields and `data.object` must have the types
stripe declares; Conekta's generated models must accept the event and the order or charge in
it. The events are read where cobro stored them byte-exact (psp_webhook_inbox)."""

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import conekta
import httpx
import stripe
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cobro.db.models import WebhookInbox
from cobro.psp.conekta.config import SIMULATOR_CONEKTA_API_KEY
from cobro.psp.stripe.client import STRIPE_VERSION
from cobro.psp.stripe.config import SIMULATOR_STRIPE_API_KEY, SIMULATOR_STRIPE_WEBHOOK_SECRET
from simulator import stripe_events
from tests.e2e.helpers import wait_until
from tests.sdk.stripe_types import object_errors
from tests.sdk.test_conekta_sdk import _create
from tests.sdk.test_stripe_sdk import AMOUNT, _oxxo, _spei
from tests.stack import CobroProcesses

STRIPE_OBJECTS: dict[str, type] = {
    "payment_intent": stripe.PaymentIntent,
    "refund": stripe.Refund,
    "customer_cash_balance_transaction": stripe.CustomerCashBalanceTransaction,
}


async def _events(
    sessions: async_sessionmaker[AsyncSession], psp: str, since: datetime, about: set[str]
) -> dict[str, dict[str, Any]]:
    """Raw bodies of `psp`'s events since `since` whose object is (or belongs to) `about`."""
    async with sessions() as session:
        rows = await session.scalars(
            select(WebhookInbox).where(WebhookInbox.psp == psp, WebhookInbox.received_at >= since)
        )
        found = {}
        for row in rows:
            obj = json.loads(row.raw_body)["data"]["object"]
            if {obj.get("id"), obj.get("order_id"), obj.get("customer")} & about:
                found[row.raw_body.decode()] = obj
        return found


async def test_stripe_events_pass_stripes_webhook_and_types(
    cobro: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    since = datetime.now(UTC)
    client = stripe.StripeClient(
        SIMULATOR_STRIPE_API_KEY,
        base_addresses={"api": f"{cobro.sim_url}/stripe"},
        stripe_version=STRIPE_VERSION,
    )
    spei = _spei(client, str(uuid.uuid4()))
    oxxo = _oxxo(client, str(uuid.uuid4()))
    customer = spei.customer
    assert isinstance(customer, str)
    async with httpx.AsyncClient(base_url=cobro.sim_url) as sim:
        for amount in (AMOUNT - 5_000, 10_000):  # partly funded, then funded with 50.00 over
            paid = await sim.post("/_sim/pay", json={"psp_reference": spei.id, "amount": amount})
            assert paid.status_code == 200, paid.text
    client.v1.payment_intents.cancel(oxxo.id, params={"cancellation_reason": "abandoned"})

    wanted = {
        "payment_intent.partially_funded",
        "payment_intent.succeeded",
        "customer_cash_balance_transaction.created",
        "payment_intent.canceled",
    }

    async def all_arrived() -> dict[str, dict[str, Any]] | None:
        found = await _events(sessions, "stripe", since, {spei.id, oxxo.id, customer})
        types = {json.loads(raw)["type"] for raw in found}
        return found if wanted <= types else None

    found = await wait_until(all_arrived, "the four Stripe events")
    for raw, obj in found.items():
        header = stripe_events.signed_headers(raw.encode(), SIMULATOR_STRIPE_WEBHOOK_SECRET)
        event = stripe.Webhook.construct_event(
            raw, header["Stripe-Signature"], SIMULATOR_STRIPE_WEBHOOK_SECRET
        )
        assert isinstance(event, stripe.Event) and event.type in wanted
        assert object_errors(json.loads(raw), stripe.Event) == []
        assert object_errors(obj, STRIPE_OBJECTS[obj["object"]]) == []


async def test_conekta_events_pass_conektas_models(
    cobro: CobroProcesses, sessions: async_sessionmaker[AsyncSession]
) -> None:
    since = datetime.now(UTC)
    config = conekta.Configuration(
        host=f"{cobro.sim_url}/conekta", access_token=SIMULATOR_CONEKTA_API_KEY
    )
    with conekta.ApiClient(config) as api_client:
        orders = conekta.OrdersApi(api_client)
        payment_id = str(uuid.uuid4())
        paid, canceled = _create(orders, "spei", payment_id), _create(orders, "cash", payment_id)
        orders.cancel_order(canceled.id)
    async with httpx.AsyncClient(base_url=cobro.sim_url) as sim:
        assert (await sim.post("/_sim/pay", json={"psp_reference": paid.id})).status_code == 200
    wanted = {"order.paid", "charge.paid", "order.canceled"}

    async def all_arrived() -> dict[str, dict[str, Any]] | None:
        found = await _events(sessions, "conekta", since, {paid.id, canceled.id})
        return found if wanted <= {json.loads(raw)["type"] for raw in found} else None

    found = await wait_until(all_arrived, "the three Conekta events")
    for raw, obj in found.items():
        event = conekta.EventResponse.from_json(raw)
        assert event is not None and event.type in wanted and event.livemode is False
        if obj["object"] == "order":
            order = conekta.OrderResponse.from_dict(obj)
            assert order is not None and order.payment_status in ("paid", "canceled")
        else:
            charge = conekta.ChargeResponse.from_dict(obj)
            assert charge is not None and charge.status == "paid" and charge.order_id == paid.id
