"""MoonPay in cobro's terms: every documented buy-transaction status mapped to a cobro event
(the map is complete), the widget's buy webhooks parsed, amounts as exact centavos (the fees
included), the widget URL signed as MoonPay documents it, the instructions, and the settings,
routing and limits for crypto."""

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from pydantic import ValidationError

from cobro.domain import money
from cobro.domain.lifecycle import Event, decide
from cobro.domain.methods import LIMITS, PaymentMethod
from cobro.domain.payment import CryptoDetails, Customer
from cobro.domain.payment_state import PSP_EVENTS
from cobro.domain.routing import RoutingError, can_refund, route
from cobro.domain.status import PaymentStatus
from cobro.psp.inbound import MalformedWebhook
from cobro.psp.moonpay import mapping, signature, webhooks, widget

KEY = "wk_test_mapping"
AT = datetime(2026, 1, 29, 14, 30, 50, tzinfo=UTC)
WALLET = "0x1234567890123456789012345678901234567890"


def transaction(status: str = "pending", **fields: Any) -> dict[str, Any]:
    """A buy transaction as the widget API's webhook example has it (MXN here), amounts read
    as the client and the receiver read them (Decimal)."""
    body = {
        "id": "bda09e91-559f-4e7a-807a-cdec1a903d9d",
        "createdAt": "2026-01-29T14:30:50.000Z",
        "updatedAt": "2026-01-29T15:30:50.000Z",
        "baseCurrencyAmount": 475.05,
        "quoteCurrencyAmount": 25.678378,
        "feeAmount": 19.95,
        "extraFeeAmount": 0,
        "networkFeeAmount": 5,
        "areFeesIncluded": True,
        "status": status,
        "failureReason": None,
        "walletAddress": WALLET,
        "cryptoTransactionId": None,
        "baseCurrency": {"code": "mxn"},
        "currency": {"code": "usdc"},
        "externalTransactionId": "pay_1",
        "externalCustomerId": "pay_1",
        **fields,
    }
    read: dict[str, Any] = money.loads(json.dumps(body))
    return read


def webhook(event_type: str, data: dict[str, Any]) -> bytes:
    body = {"type": event_type, "data": data, "externalCustomerId": data.get("externalCustomerId")}
    return json.dumps(body, default=str).encode()


def parse(body: bytes) -> Any:
    headers = {"moonpay-signature-v2": signature.sign(body, KEY)}
    return webhooks.parse(body, headers, KEY)


# ---- the map is complete ----------------------------------------------------------------


def test_each_documented_status_maps_to_a_cobro_event() -> None:
    kinds = {s: mapping.transaction_kind(transaction(s)) for s in mapping.TRANSACTION_STATUSES}
    assert kinds == {
        "waitingPayment": "processing",
        "pending": "processing",
        "waitingAuthorization": "processing",
        "failed": "failed",
        "completed": "paid",
    }


def test_a_status_moonpay_adds_later_is_kept_and_moves_nothing() -> None:
    assert mapping.transaction_kind(transaction("refunded")) == "other"


def test_a_started_purchase_reaches_succeeded_only_through_processing() -> None:
    status = PaymentStatus.AWAITING_PAYMENT
    steps = ((transaction("pending"), "processing"), (transaction("completed"), "succeeded"))
    for tx, expected in steps:
        decision = decide(status, PSP_EVENTS[mapping.transaction_kind(tx)])
        assert decision.target == expected
        status = PaymentStatus(expected)
    failed_kind = mapping.transaction_kind(transaction("failed"))
    failed = decide(PaymentStatus.PROCESSING, PSP_EVENTS[failed_kind])
    assert failed.target == PaymentStatus.FAILED


def test_a_completed_purchase_received_what_the_customer_paid_fees_included() -> None:
    event = mapping.event_from_transaction(
        transaction("completed", cryptoTransactionId="0xabc"), "e1", AT
    )
    assert (event.kind, event.amount_received, event.psp_reference) == ("paid", 50_000, "pay_1")
    assert event.psp_status == (
        "completed: transaction bda09e91-559f-4e7a-807a-cdec1a903d9d; tx 0xabc"
    )


def test_a_started_purchase_has_received_nothing_yet() -> None:
    event = mapping.event_from_transaction(transaction("waitingPayment"), "e1", AT)
    assert (event.kind, event.amount_received, event.failure_reason) == ("processing", 0, None)


def test_a_failed_purchase_names_moonpays_reason() -> None:
    failed = transaction("failed", failureReason="payment_authorization_declined")
    event = mapping.event_from_transaction(failed, "e1", AT)
    assert event.failure_reason == (
        "moonpay purchase bda09e91-559f-4e7a-807a-cdec1a903d9d failed: "
        "payment_authorization_declined"
    )
    assert event.psp_status.startswith("failed (payment_authorization_declined)")
    assert mapping.event_from_transaction(transaction("failed"), "e2", AT).failure_reason == (
        "moonpay purchase bda09e91-559f-4e7a-807a-cdec1a903d9d failed: no reason given"
    )


def test_poll_ids_change_only_when_the_status_does() -> None:
    assert mapping.poll_event_id(transaction("pending")) == mapping.poll_event_id(
        transaction("pending", updatedAt="2026-01-29T16:00:00.000Z")
    )
    assert mapping.poll_event_id(transaction("pending")) != mapping.poll_event_id(
        transaction("completed")
    )


def test_the_latest_purchase_is_the_payments() -> None:
    first = transaction("failed", id="a", createdAt="2026-01-29T14:00:00.000Z")
    again = transaction("pending", id="b", createdAt="2026-01-29T14:05:00.000Z")
    assert mapping.latest([again, first]) == again
    assert mapping.latest([]) is None


def test_a_completed_purchase_is_never_hidden_by_a_later_attempt() -> None:
    paid = transaction("completed", id="a", createdAt="2026-01-29T14:00:00.000Z")
    later = [
        transaction(status, id="b", createdAt="2026-01-29T14:05:00.000Z")
        for status in ("pending", "failed")
    ]
    assert [mapping.latest([paid, other]) for other in later] == [paid, paid]


def test_a_purchase_paid_in_another_currency_is_never_counted_as_pesos() -> None:
    in_usd = transaction("completed", baseCurrency={"code": "usd"}, baseCurrencyAmount=20)
    with pytest.raises(ValueError, match="was paid in USD"):
        mapping.event_from_transaction(in_usd, "e1", AT)
    with pytest.raises(MalformedWebhook):
        parse(webhook("transaction_updated", in_usd))


# ---- webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize("event_type", mapping.WEBHOOK_TYPES)
def test_buy_webhooks_are_parsed_with_their_payment_hint(event_type: str) -> None:
    inbound = parse(webhook(event_type, transaction("completed")))
    assert inbound.event_type == event_type and inbound.payment_id_hint == "pay_1"
    assert (inbound.event.kind, inbound.event.amount_received) == ("paid", 50_000)
    assert inbound.event.occurred_at == datetime(2026, 1, 29, 15, 30, 50, tzinfo=UTC)


def test_a_redelivered_webhook_is_the_same_event_and_a_change_is_another() -> None:
    tx = transaction("pending")
    first = parse(webhook("transaction_created", tx)).event.event_id
    assert parse(webhook("transaction_created", tx)).event.event_id == first
    later = {**tx, "status": "completed", "updatedAt": "2026-01-29T15:31:00.000Z"}
    assert parse(webhook("transaction_updated", later)).event.event_id != first


def test_other_event_types_are_kept_and_move_nothing() -> None:
    inbound = parse(webhook("sell_transaction_updated", transaction("completed")))
    assert (inbound.event.kind, inbound.payment_id_hint) == ("other", None)
    assert inbound.event.psp_status == "sell_transaction_updated"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        json.dumps({"type": "transaction_updated"}).encode(),
        webhook("transaction_updated", {**transaction(), "externalTransactionId": None}),
        webhook("transaction_updated", {**transaction("completed"), "feeAmount": "1.001"}),
        webhook("transaction_updated", {**transaction("completed"), "baseCurrencyAmount": None}),
        webhook("transaction_updated", {**transaction(), "updatedAt": 5}),
    ],
    ids=["not-json", "array", "no-data", "no-payment", "sub-centavo", "no-amount", "bad-timestamp"],
)
def test_authentic_but_unreadable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        parse(body)


def test_the_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(signature.SignatureError):
        webhooks.parse(b"not json", {"moonpay-signature-v2": "t=1,s=00"}, KEY)


# ---- amounts, the widget URL and the instructions -----------------------------------------


@pytest.mark.parametrize(
    ("amount", "centavos"),
    [("500.00", 50_000), (Decimal("0.29"), 29), ("1234.5", 123_450), (7, 700)],
)
def test_amounts_are_exact_centavos(amount: object, centavos: int) -> None:
    assert mapping.amount_to_centavos(amount) == centavos
    assert mapping.amount_to_centavos(mapping.centavos_to_amount(centavos)) == centavos


@pytest.mark.parametrize("amount", ["0.001", "-1", "abc", "NaN", None, 1.5, True])
def test_anything_but_whole_centavos_is_refused(amount: object) -> None:
    with pytest.raises(ValueError):
        mapping.amount_to_centavos(amount)


def test_the_widget_url_is_signed_as_moonpay_documents() -> None:
    """dev.moonpay.com "URL signing": base64 HMAC-SHA256 of the query string from its `?`,
    values URL-encoded, keyed with the secret key, appended last as `signature`."""
    params = [("apiKey", "pk_test_key"), ("currencyCode", "eth"), ("walletAddress", WALLET)]
    url = widget.signed_url("https://buy-sandbox.moonpay.com", params, "sk_test_key")
    query = f"?apiKey=pk_test_key&currencyCode=eth&walletAddress={WALLET}"
    expected = base64.b64encode(
        hmac.new(b"sk_test_key", query.encode(), hashlib.sha256).digest()
    ).decode()
    assert url.startswith(f"https://buy-sandbox.moonpay.com{query}&signature=")
    assert dict(parse_qsl(urlsplit(url).query))["signature"] == expected
    assert "+" not in url.rpartition("=")[2] and "/" not in url.rpartition("=")[2]


def test_instructions_carry_the_widget_parameters_but_never_the_wallet() -> None:
    expires_at = datetime(2026, 1, 29, 15, 0, 50, tzinfo=UTC)
    params = mapping.widget_params("pay_1", "USDC", 50_000)
    shown = mapping.instructions("pay_1", params, expires_at)
    assert shown == {
        "type": "crypto",
        "reference": "pay_1",
        "widget": {
            "currencyCode": "usdc",
            "baseCurrencyCode": "mxn",
            "baseCurrencyAmount": "500.00",
            "lockAmount": "true",
            "externalTransactionId": "pay_1",
            "externalCustomerId": "pay_1",
        },
        "expires_at": "2026-01-29T15:00:50Z",
    }
    assert WALLET not in str(shown)  # the customer's wallet stays out of workflow history


# ---- the request's crypto details, routing, limits, settings -------------------------------


@pytest.mark.parametrize(
    ("currency", "address"),
    [
        ("usdc", WALLET),
        ("eth", "0xc216eD2D6c295579718dbd4a797845CdA70B3C36"),
        ("btc", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ("btc", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
        ("sol", "7EcDhSYGxXyscszYEp35KHN8vvw3svAuLKTzXwCFLtV"),
    ],
)
def test_wallet_addresses_that_fit_their_currency(currency: str, address: str) -> None:
    CryptoDetails.model_validate({"currency_code": currency, "wallet_address": address})


@pytest.mark.parametrize(
    ("currency", "address"),
    [
        ("btc", WALLET),  # an Ethereum address for bitcoin
        ("usdc", "0x12345"),
        ("usdc", WALLET + "00"),
        ("doge", "DH5yaieqoZN36fDVciNyRueRGvGLR3mr7L"),
    ],
)
def test_wallet_addresses_that_do_not(currency: str, address: str) -> None:
    with pytest.raises(ValidationError):
        CryptoDetails.model_validate({"currency_code": currency, "wallet_address": address})


def test_crypto_routes_to_moonpay_within_its_limits_and_is_not_refundable() -> None:
    crypto = PaymentMethod.CRYPTO
    assert route(crypto, 50_000, None, customer=Customer(name="Ana")) == ["moonpay"]
    assert route(crypto, 50_000, "moonpay", customer=Customer(name="Ana")) == ["moonpay"]
    with pytest.raises(RoutingError, match=r"moonpay takes crypto between 20000 and 5000000"):
        route(crypto, 19_999, None, customer=Customer(name="Ana"))
    with pytest.raises(RoutingError, match="stripe does not take crypto"):
        route(crypto, 50_000, "stripe", customer=Customer(name="Ana"))
    assert not can_refund("moonpay", crypto)
    limits = LIMITS[crypto]
    assert (limits.min_amount, limits.max_amount) == (20_000, 5_000_000)
    assert (limits.default_expires_in_s, limits.max_expires_in_s) == (1800, 86_400)


def test_moonpay_settings_default_in_simulator_mode_and_are_required_live() -> None:
    from cobro.payload_keys import new_key_entry
    from cobro.settings import Settings

    simulated = Settings.model_validate({"COBRO_PSP_MODE": "simulator"})
    assert "moonpay" in simulated.enabled_psps
    assert simulated.moonpay_api_key and simulated.moonpay_webhook_key
    assert simulated.moonpay_publishable_key.startswith("pk_test_")
    assert simulated.moonpay_base_url.endswith("/moonpay")
    assert simulated.moonpay_widget_url.endswith("/moonpay/buy")
    with pytest.raises(
        ValueError, match="MOONPAY_API_KEY, MOONPAY_PUBLISHABLE_KEY, MOONPAY_WEBHOOK_KEY"
    ):
        Settings.model_validate(
            {"COBRO_PSP_MODE": "live", "COBRO_PSPS": "moonpay", "COBRO_SECRET_KEY": "k"}
        )
    live = Settings.model_validate(
        {
            "COBRO_PSP_MODE": "live",
            "COBRO_PSPS": "moonpay",
            "COBRO_SECRET_KEY": "k",
            "MOONPAY_API_KEY": "sk_live_x",
            "MOONPAY_PUBLISHABLE_KEY": "pk_live_x",
            "MOONPAY_WEBHOOK_KEY": "wk_live_x",
            "COBRO_PAYLOAD_KEYS": new_key_entry("k1"),
        }
    )
    assert live.moonpay_base_url == "https://api.moonpay.com"
    assert live.moonpay_widget_url == "https://buy.moonpay.com"


def test_the_workflow_knows_every_kind_moonpay_produces() -> None:
    kinds = {mapping.transaction_kind(transaction(s)) for s in mapping.TRANSACTION_STATUSES}
    assert kinds - {"other"} <= set(PSP_EVENTS)
    assert {PSP_EVENTS[k] for k in kinds - {"other"}} <= set(Event)
