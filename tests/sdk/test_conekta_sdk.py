"""Conekta's official SDK (`conekta` 9.0.0, generated from Conekta's OpenAPI with strict
pydantic models) makes every call cobro's Conekta client makes (cobro/psp/conekta/client.py)
against the simulator: each answer must deserialize into the SDK's model, and the fields cobro
reads must come back with Conekta's types. A model that rejects an answer fails the test."""

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import conekta
import httpx
import pytest
from conekta.exceptions import NotFoundException, UnauthorizedException
from conekta.models.order_request import OrderRequest

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import Customer, PaymentInput
from cobro.psp.conekta.adapter import order_body
from cobro.psp.conekta.client import ACCEPT, CHARGES_PAGE
from cobro.psp.conekta.config import SIMULATOR_CONEKTA_API_KEY
from cobro.psp.errors import PspRejected
from tests.stack import CobroProcesses


@pytest.fixture(scope="module")
def client(cobro: CobroProcesses) -> Iterator[conekta.ApiClient]:
    config = conekta.Configuration(
        host=f"{cobro.sim_url}/conekta", access_token=SIMULATOR_CONEKTA_API_KEY
    )
    with conekta.ApiClient(config) as api_client:
        api_client.set_default_header("Accept", ACCEPT)  # the version cobro pins
        yield api_client


def _order_request(kind: str, payment_id: str) -> OrderRequest:
    """The body cobro's Conekta adapter sends (cobro/psp/conekta/adapter.py `order_body`, the
    function its create_charge calls), for a payment as the API makes it: it must validate as
    the SDK's OrderRequest (strict: name, email and phone are required), field for field."""
    payment = _order_request_payment(payment_id, kind)
    body = order_body(payment, datetime.now(UTC) + timedelta(days=1))
    request = OrderRequest.from_dict(body)
    assert request is not None
    # Nothing cobro sends is dropped or changed by the SDK's model.
    assert request.to_dict() == body
    return request


def _order_request_payment(payment_id: str, kind: str = "cash") -> PaymentInput:
    """A payment as the API starts it, its customer loaded as the PSP activity loads it."""
    return PaymentInput(
        payment_id=payment_id,
        merchant_id="mer_sdk",
        amount=25_000,
        currency="MXN",
        method=PaymentMethod.OXXO if kind == "cash" else PaymentMethod.SPEI,
        psps=["conekta"],
        customer=Customer(name="Ana López", email="ana@example.com", phone="+525512345678"),
        description="Pedido 1",
        expires_in=86_400,
    )


def test_a_payment_without_a_phone_is_never_sent_to_conekta() -> None:
    """Routing keeps such a payment from Conekta; one routed before that rule is refused by
    the adapter with the reason, not sent for Conekta to refuse."""
    payment = PaymentInput.model_validate(
        {
            **_order_request_payment("pay_nophone").model_dump(),
            "customer": Customer(name="Ana López", email="ana@example.com"),
        }
    )
    with pytest.raises(PspRejected, match=r"^conekta needs customer.phone$"):
        order_body(payment, datetime.now(UTC))


class Order(conekta.OrderResponse):
    id: str  # Conekta's model has it optional; every order the API answers with has one


def _create(api: conekta.OrdersApi, kind: str, payment_id: str) -> Order:
    created = api.create_order(
        _order_request(kind, payment_id),
        accept_language="es",
        _headers={"Idempotency-Key": f"cobro-payment-{payment_id}-{kind}"},
    )
    order = Order.model_validate(created.model_dump())
    return order


def test_create_order_spei_and_cash(client: conekta.ApiClient) -> None:
    orders = conekta.OrdersApi(client)
    payment_id = str(uuid.uuid4())
    spei = _create(orders, "spei", payment_id)
    assert spei.id.startswith("ord_") and spei.livemode is False
    assert (spei.amount, spei.currency, spei.payment_status) == (25_000, "MXN", "pending_payment")
    assert spei.metadata == {"cobro_payment_id": payment_id}
    assert spei.charges is not None and spei.charges.data is not None
    charge = spei.charges.data[0]
    assert isinstance(charge.livemode, bool) and charge.status == "pending_payment"
    assert charge.payment_method is not None
    transfer = charge.payment_method.actual_instance
    assert isinstance(transfer, conekta.PaymentMethodBankTransfer)
    assert transfer.type == "spei" and transfer.bank == "STP"
    assert transfer.clabe is not None and len(transfer.clabe) == 18
    assert isinstance(transfer.expires_at, int)

    cash = _create(orders, "cash", payment_id)
    assert cash.charges is not None and cash.charges.data is not None
    assert cash.charges.data[0].payment_method is not None
    voucher = cash.charges.data[0].payment_method.actual_instance
    assert isinstance(voucher, conekta.PaymentMethodCash)
    assert voucher.type == "oxxo" and voucher.reference is not None
    assert len(voucher.reference) == 14 and isinstance(voucher.expires_at, int)
    assert voucher.barcode_url is not None

    again = _create(orders, "cash", payment_id)  # the same Idempotency-Key: the same order
    assert again.id == cash.id


def test_get_search_and_cancel_order(client: conekta.ApiClient, cobro: CobroProcesses) -> None:
    orders = conekta.OrdersApi(client)
    payment_id = str(uuid.uuid4())
    created = _create(orders, "cash", payment_id)

    got = orders.get_order_by_id(created.id, accept_language="es")
    assert (got.id, got.payment_status, got.amount) == (created.id, "pending_payment", 25_000)

    found = orders.get_orders(search=payment_id, accept_language="es")
    assert [o.id for o in found.data] == [created.id] and found.has_more is False
    assert found.data[0].metadata == {"cobro_payment_id": payment_id}

    canceled = orders.cancel_order(created.id, accept_language="es")
    assert canceled.payment_status == "canceled"

    paid = _create(orders, "spei", payment_id)
    httpx.post(f"{cobro.sim_url}/_sim/pay", json={"psp_reference": paid.id}).raise_for_status()
    after = orders.get_order_by_id(paid.id, accept_language="es")
    assert after.payment_status == "paid"
    assert after.charges is not None and after.charges.data is not None
    assert isinstance(after.charges.data[0].paid_at, int)


def test_refund_is_refused_with_conektas_error_body(client: conekta.ApiClient) -> None:
    """Conekta refunds no cash or SPEI order by API; the refusal parses as the SDK's Error."""
    orders = conekta.OrdersApi(client)
    created = _create(orders, "spei", str(uuid.uuid4()))
    refund = conekta.OrderRefundRequest(amount=100, reason="requested_by_client")
    with pytest.raises(conekta.ApiException) as refused:
        orders.order_refund(created.id, refund, accept_language="es")
    assert refused.value.status == 422
    error = refused.value.data
    assert isinstance(error, conekta.Error) and error.type == "processing_error"
    assert error.details and error.details[0].message


def test_list_charges_pages_back(client: conekta.ApiClient, cobro: CobroProcesses) -> None:
    """`GET /charges`, as reconciliation walks it: `limit`, then `next` = the last id seen;
    a line the report test forges must parse too."""
    orders, charges = conekta.OrdersApi(client), conekta.ChargesApi(client)
    payment_id = str(uuid.uuid4())
    mine = {_create(orders, kind, payment_id).id for kind in ("spei", "cash")}
    forged = f"ord_forged_{payment_id[:8]}"
    httpx.post(
        f"{cobro.sim_url}/_sim/conekta/report",
        json={"op": "add", "reference": forged, "amount": 777},
    ).raise_for_status()

    first = charges.get_charges(limit=2, accept_language="es")
    assert first.has_more is True and first.data is not None and len(first.data) == 2
    assert first.next_page_url is not None
    second = charges.get_charges(limit=2, next=first.data[-1].id, accept_language="es")
    assert second.data and second.data[0].id not in {c.id for c in first.data}

    everything = charges.get_charges(limit=CHARGES_PAGE, accept_language="es")
    assert everything.data is not None
    by_order = {str(c.order_id): c for c in everything.data}
    assert mine | {forged} <= set(by_order)
    assert None not in by_order
    for order_id in mine:
        line = by_order[order_id]
        assert (line.amount, line.status, line.currency) == (25_000, "pending_payment", "MXN")
        assert isinstance(line.created_at, int) and isinstance(line.livemode, bool)
    assert by_order[forged].amount == 777


def test_create_webhook_key(client: conekta.ApiClient) -> None:
    key = conekta.WebhookKeysApi(client).create_webhook_key(
        accept_language="es", webhook_key_request=conekta.WebhookKeyRequest(active=True)
    )
    assert key.object == "webhook_key" and key.active is True
    assert key.public_key is not None and key.public_key.startswith("-----BEGIN PUBLIC KEY-----")


def test_errors_parse_as_conektas(client: conekta.ApiClient, cobro: CobroProcesses) -> None:
    """Not found, a bad key and an Idempotency-Key reused for another order: each answer
    parses as the SDK's Error with Conekta's error type."""
    orders = conekta.OrdersApi(client)
    with pytest.raises(NotFoundException) as missing:
        orders.get_order_by_id("ord_doesnotexist", accept_language="es")
    assert isinstance(missing.value.data, conekta.Error)
    assert missing.value.data.type == "resource_not_found_error"

    config = conekta.Configuration(host=f"{cobro.sim_url}/conekta", access_token="key_wrong")
    with conekta.ApiClient(config) as wrong_key, pytest.raises(UnauthorizedException) as e:
        conekta.OrdersApi(wrong_key).get_order_by_id("ord_doesnotexist")
    assert isinstance(e.value.data, conekta.Error) and e.value.data.type == "authentication_error"

    payment_id = str(uuid.uuid4())
    _create(orders, "cash", payment_id)
    with pytest.raises(conekta.ApiException) as reused:
        orders.create_order(
            _order_request("spei", payment_id),
            _headers={"Idempotency-Key": f"cobro-payment-{payment_id}-cash"},
        )
    # Conekta's OpenAPI declares no 409 for this call (what Conekta answers is unconfirmed),
    # so the SDK leaves `data` empty: the body must still be Conekta's error.
    assert reused.value.status == 409 and reused.value.body is not None
    conflict = conekta.Error.from_json(reused.value.body)
    assert conflict is not None and conflict.type == "conflict_error"
