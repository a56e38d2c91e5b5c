"""MoonPay in cobro's terms: every transaction status and stage combination mapped to a cobro
event (the map is complete), webhook bodies in MoonPay's documented shape parsed, amounts as
exact centavos, the instructions, and the settings, routing and limits for crypto."""

import copy
import itertools
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cobro.domain.lifecycle import Event, decide
from cobro.domain.methods import LIMITS, PaymentMethod
from cobro.domain.payment import CryptoDetails, Customer
from cobro.domain.payment_state import PSP_EVENTS
from cobro.domain.routing import RoutingError, can_refund, route
from cobro.domain.status import PaymentStatus
from cobro.psp.inbound import MalformedWebhook
from cobro.psp.moonpay import mapping, signature, webhooks

KEY = "wk_test_mapping"
AT = datetime(2026, 1, 29, 14, 30, 50, tzinfo=UTC)
WALLET = "0x1234567890123456789012345678901234567890"


def transaction(
    status: str = "pending", **stage_status: str | tuple[str, str | None]
) -> dict[str, Any]:
    """A Platform transaction as dev.moonpay.com's Transaction example has it (MXN here)."""
    stages = []
    for kind in mapping.STAGES:
        value = stage_status.get(kind, "not_started")
        state, reason = value if isinstance(value, tuple) else (value, None)
        stages.append(
            {"kind": kind, "name": kind.title(), "status": state, "failureReason": reason}
        )
    return {
        "id": "tr_abc123",
        "createdAt": "2026-01-29T14:30:50.000Z",
        "updatedAt": "2026-01-29T15:30:50.000Z",
        "status": status,
        "source": {"amount": "500.00", "asset": {"code": "MXN"}},
        "destination": {"amount": "25.893456", "asset": {"code": "USDC"}},
        "fees": {
            "network": {"amount": "5.00", "currencyCode": "MXN"},
            "moonpay": {"amount": "19.95", "currencyCode": "MXN"},
        },
        "wallet": {"address": WALLET},
        "customer": {"id": "cus_xyz789", "externalCustomerId": "pay_1"},
        "externalTransactionId": "pay_1",
        "stages": stages,
        "quote": {"exchangeRate": "18.50", "expiresAt": "2026-01-29T15:00:50.000Z"},
        "cryptoTransactionId": None,
        "hostedUrl": "http://127.0.0.1:8010/moonpay/checkout/tr_abc123",
    }


def webhook(event_type: str, data: dict[str, Any], event_id: str = "evt_1") -> bytes:
    body = {"id": event_id, "type": event_type, "timestamp": "2029-07-21T17:30:28Z", "data": data}
    return json.dumps(body).encode()


def parse(body: bytes) -> Any:
    headers = {"moonpay-signature-v2": signature.sign(body, KEY)}
    return webhooks.parse(body, headers, KEY)


# ---- the map is complete ----------------------------------------------------------------


def all_transactions() -> list[dict[str, Any]]:
    """Every status with every combination of stage statuses MoonPay's rules allow: stages
    progress in order, at most one fails, and the ones after a failure stay not_started."""
    found = []
    for status, combo in itertools.product(
        mapping.TRANSACTION_STATUSES, itertools.product(mapping.STAGE_STATUSES, repeat=3)
    ):
        if "failed" in combo:
            at = combo.index("failed")
            if any(s != "success" for s in combo[:at]) or any(
                s != "not_started" for s in combo[at + 1 :]
            ):
                continue
        for reason in ("error", mapping.QUOTE_EXPIRED, mapping.CANCELLED):
            stages = {
                kind: (s, reason) if s == "failed" else s
                for kind, s in zip(mapping.STAGES, combo, strict=True)
            }
            found.append(transaction(status, **stages))
    return found


def test_every_status_and_stage_combination_maps_to_a_cobro_event() -> None:
    for tx in all_transactions():
        kind = mapping.transaction_kind(tx)
        assert kind == "other" or kind in PSP_EVENTS, (tx["status"], kind)
        event = mapping.event_from_transaction(tx, "evt", AT)
        assert event.psp == "moonpay" and event.psp_reference == "tr_abc123"
        assert (event.failure_reason is not None) == (kind == "failed")


def test_each_status_maps_as_documented() -> None:
    assert set(mapping.TRANSACTION_STATUS_KINDS) == set(mapping.TRANSACTION_STATUSES)
    assert mapping.transaction_kind(transaction("pending")) == "other"
    assert mapping.transaction_kind(transaction("pending", verification="in_progress")) == (
        "processing"
    )
    fiat_in = transaction(
        "pending", verification="success", payment="success", delivery="in_progress"
    )
    assert mapping.transaction_kind(fiat_in) == "processing"
    done = transaction("completed", verification="success", payment="success", delivery="success")
    assert mapping.transaction_kind(done) == "paid"


def test_identity_statuses_map_and_unknown_ones_move_nothing() -> None:
    assert set(mapping.IDENTITY_STATUS_KINDS) == {"pending", "completed", "failed"}
    for status, kind in mapping.IDENTITY_STATUS_KINDS.items():
        data = {"id": "cus_1", "externalCustomerId": "pay_1", "identityStatus": status}
        assert mapping.event_from_identity(data, "evt", AT).kind == kind
    unknown = {"id": "cus_1", "identityStatus": "under_review"}
    assert mapping.event_from_identity(unknown, "evt", AT).kind == "other"


def test_a_status_moonpay_adds_later_is_kept_and_moves_nothing() -> None:
    assert mapping.transaction_kind(transaction("waitingPayment", payment="success")) == "other"


def test_the_two_legs_reach_succeeded_only_through_processing() -> None:
    """Fiat in is `processing` (awaiting_payment -> processing), crypto out is `paid`
    (processing -> succeeded), a failure after the fiat is `failed` (processing -> failed)."""
    fiat_in = transaction(
        "pending", verification="success", payment="success", delivery="in_progress"
    )
    delivered = transaction(
        "completed", verification="success", payment="success", delivery="success"
    )
    undelivered = transaction(
        "failed", verification="success", payment="success", delivery=("failed", "error")
    )
    status = PaymentStatus.AWAITING_PAYMENT
    for tx, expected in ((fiat_in, "processing"), (delivered, "succeeded")):
        decision = decide(status, PSP_EVENTS[mapping.transaction_kind(tx)])
        assert decision.target == expected
        status = PaymentStatus(expected)
    failed = decide(PaymentStatus.PROCESSING, PSP_EVENTS[mapping.transaction_kind(undelivered)])
    assert failed.target == PaymentStatus.FAILED


def test_a_failed_delivery_names_the_stage_and_the_refund() -> None:
    tx = transaction("failed", verification="success", payment="success", delivery=("failed", None))
    tx["refund"] = {"amount": "500.00", "status": "completed", "createdAt": "2026-01-29T15:31Z"}
    event = mapping.event_from_transaction(tx, "evt_9", AT)
    assert event.kind == "failed" and event.amount_received == 50_000
    assert event.failure_reason == (
        "moonpay delivery stage failed: error; MoonPay refunded 500.00 MXN to the customer"
    )
    tx["refund"] = None
    assert "to be refunded by MoonPay" in (mapping.failure_reason(tx))


def test_an_untouched_purchase_whose_quote_expired_expires() -> None:
    expired = transaction("failed", payment=("failed", mapping.QUOTE_EXPIRED))
    assert mapping.transaction_kind(expired) == "expired"
    voided = transaction("failed", payment=("failed", mapping.CANCELLED))
    assert mapping.transaction_kind(voided) == "canceled"
    # Once the customer was verifying, cobro is processing: the same expiry is a failure.
    started = transaction(
        "failed", verification="success", payment=("failed", mapping.QUOTE_EXPIRED)
    )
    assert mapping.transaction_kind(started) == "failed"
    assert "payment stage failed: quote_expired" in mapping.failure_reason(started)


def test_a_kyc_rejection_fails_the_purchase_before_any_money() -> None:
    rejected = transaction("failed", verification=("failed", "identity_verification_failed"))
    event = mapping.event_from_transaction(rejected, "evt", AT)
    assert event.kind == "failed" and event.amount_received == 0
    assert event.failure_reason == (
        "moonpay verification stage failed: identity_verification_failed; nothing was charged"
    )


def test_poll_ids_change_only_when_the_observed_state_does() -> None:
    a = transaction("pending", verification="in_progress")
    assert mapping.poll_event_id(a) == mapping.poll_event_id(copy.deepcopy(a))
    b = transaction("pending", verification="success", payment="success")
    assert mapping.poll_event_id(a) != mapping.poll_event_id(b)


# ---- webhooks in MoonPay's shape ----------------------------------------------------------


def test_a_transaction_webhook_is_parsed_with_its_payment_hint() -> None:
    tx = transaction("completed", verification="success", payment="success", delivery="success")
    tx["cryptoTransactionId"] = "0x6751c8fce2e0fb5d57bb4801b31b35a7160fa362e0c5703d44cfd508317ee2f8"
    inbound = parse(webhook("transaction.updated", tx, "evt_42"))
    assert inbound.payment_id_hint == "pay_1" and inbound.event_type == "transaction.updated"
    event = inbound.event
    assert (event.event_id, event.kind, event.amount_received) == ("evt_42", "paid", 50_000)
    assert event.occurred_at == datetime(2029, 7, 21, 17, 30, 28, tzinfo=UTC)
    assert "delivery success" in event.psp_status and "tx 0x6751c8" in event.psp_status


def test_an_identity_webhook_belongs_to_the_payment_named_as_its_customer() -> None:
    data = {"id": "cus_7", "externalCustomerId": "pay_1", "identityStatus": "failed"}
    inbound = parse(webhook(mapping.IDENTITY_EVENT, data))
    assert inbound.payment_id_hint == "pay_1"
    assert inbound.event.kind == "failed" and inbound.event.psp_reference == "cus_7"
    assert inbound.event.failure_reason is not None
    assert "verification" in inbound.event.failure_reason


def test_other_event_types_are_kept_and_move_nothing() -> None:
    inbound = parse(webhook("customer.created", {"id": "cus_7"}))
    assert inbound.event.kind == "other" and inbound.payment_id_hint is None


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"id": "evt", "type": "transaction.updated"}).encode(),
        webhook("transaction.updated", {**transaction(), "id": {}}),
        webhook("transaction.updated", {**transaction(), "source": {"amount": "1.001"}}),
        json.dumps(
            {"id": "e", "type": "transaction.updated", "timestamp": 5, "data": transaction()}
        ).encode(),
    ],
    ids=["not-json", "array", "no-data", "bad-id", "sub-centavo", "bad-timestamp"],
)
def test_authentic_but_unreadable_bodies_are_malformed(body: bytes) -> None:
    with pytest.raises(MalformedWebhook):
        parse(body)


def test_the_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(signature.SignatureError):
        webhooks.parse(b"not json", {"moonpay-signature-v2": "t=1,s=00"}, KEY)


# ---- amounts and instructions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "centavos"), [("500.00", 50_000), ("0.29", 29), ("1234.5", 123_450), ("7", 700)]
)
def test_decimal_strings_are_exact_centavos(amount: str, centavos: int) -> None:
    assert mapping.amount_to_centavos(amount) == centavos
    assert mapping.amount_to_centavos(mapping.centavos_to_amount(centavos)) == centavos


@pytest.mark.parametrize("amount", ["0.001", "-1", "abc", "NaN", None, 1.5, True])
def test_anything_but_whole_centavos_is_refused(amount: object) -> None:
    with pytest.raises(ValueError):
        mapping.amount_to_centavos(amount)


def test_instructions_carry_the_hosted_page_and_the_quote() -> None:
    expires_at = datetime(2026, 1, 29, 15, 0, 50, tzinfo=UTC)
    shown = mapping.instructions(transaction(), expires_at)
    assert shown == {
        "type": "crypto",
        "hosted_url": "http://127.0.0.1:8010/moonpay/checkout/tr_abc123",
        "reference": "tr_abc123",
        "quote": {
            "currency_code": "usdc",
            "crypto_amount": "25.893456",
            "rate": "18.50",
            "fee_amount": "24.95",
            "expires_at": "2026-01-29T15:00:50Z",
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
    assert simulated.moonpay_base_url.endswith("/moonpay")
    with pytest.raises(ValueError, match="MOONPAY_API_KEY, MOONPAY_WEBHOOK_KEY"):
        Settings.model_validate(
            {"COBRO_PSP_MODE": "live", "COBRO_PSPS": "moonpay", "COBRO_SECRET_KEY": "k"}
        )
    live = Settings.model_validate(
        {
            "COBRO_PSP_MODE": "live",
            "COBRO_PSPS": "moonpay",
            "COBRO_SECRET_KEY": "k",
            "MOONPAY_API_KEY": "sk_live_x",
            "MOONPAY_WEBHOOK_KEY": "wk_live_x",
            "COBRO_PAYLOAD_KEYS": new_key_entry("k1"),
        }
    )
    assert live.moonpay_base_url == "https://api.moonpay.com"


def test_the_workflow_knows_every_kind_moonpay_produces() -> None:
    kinds = {mapping.transaction_kind(tx) for tx in all_transactions()}
    kinds |= set(mapping.IDENTITY_STATUS_KINDS.values())
    assert kinds - {"other"} <= set(PSP_EVENTS)
    assert {PSP_EVENTS[k] for k in kinds - {"other"}} <= set(Event)
