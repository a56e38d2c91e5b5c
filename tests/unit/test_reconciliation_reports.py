"""Each PSP's settlement report read into reconciliation lines: exact centavos from decimal pesos,
lines keyed by the reference cobro stores, and only what happened in the Mexico City day."""

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from cobro.domain import money
from cobro.psp.conekta.reconciliation import charge_lines
from cobro.psp.moonpay.reconciliation import transaction_lines
from cobro.psp.stp.reconciliation import fecha_operacion, order_lines
from cobro.psp.stripe.reconciliation import balance_lines

DAY = date(2026, 11, 26)  # Mexico City: 2026-11-26T06:00Z to 2026-11-27T06:00Z (UTC-6)
FIRST = datetime(2026, 11, 26, 6, 0, tzinfo=UTC)  # 00:00 in Mexico City
LAST = datetime(2026, 11, 27, 5, 59, 59, tzinfo=UTC)  # 23:59:59 in Mexico City
NEXT = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 00:00 the next day there
BEFORE = datetime(2026, 11, 26, 5, 59, 59, tzinfo=UTC)  # 23:59:59 the day before there
CLABE_A, CLABE_B = "646180432100000011", "646180432100000029"


def _orden(cuenta: str, monto: object, estado: str = "TLQ", **fields: Any) -> dict[str, Any]:
    return {"cuentaBeneficiario": cuenta, "monto": monto, "estado": estado, **fields}


def test_stp_deposits_are_exact_centavos_summed_per_clabe() -> None:
    # As the STP client reads them: JSON numbers parsed as Decimal, never float.
    received = json.loads(
        json.dumps(
            [
                _orden(CLABE_A, 0.1, claveRastreo="A1"),
                _orden(CLABE_A, 0.2, claveRastreo="A2"),  # 0.1 + 0.2 is 0.30000000000000004
                _orden(CLABE_B, 1234567.89, claveRastreo="B1"),
            ]
        ),
        parse_float=Decimal,
    )
    assert order_lines(received, []) == {("charge", CLABE_A): 30, ("charge", CLABE_B): 123_456_789}


def test_stp_counts_settled_orders_only_and_refunds_by_the_clabe_they_left_from() -> None:
    received = [
        _orden(CLABE_A, Decimal("250.00")),
        _orden(CLABE_A, Decimal("99.99"), estado="D"),  # returned to the payer
        _orden(CLABE_B, "0.29"),  # 28.999... as a float
    ]
    sent = [
        {"cuentaOrdenante": CLABE_A, "cuentaBeneficiario": "012180015555555557", "monto": 50,
         "estado": "LQ"},
        {"cuentaOrdenante": CLABE_A, "monto": Decimal("0.01"), "estado": "LQ"},
        {"cuentaOrdenante": CLABE_B, "monto": Decimal("10"), "estado": "CN"},  # canceled
    ]  # fmt: skip
    assert order_lines(received, sent) == {
        ("charge", CLABE_A): 25_000,
        ("charge", CLABE_B): 29,
        ("refund", CLABE_A): -5_001,
    }


@pytest.mark.parametrize("monto", [Decimal("10.255"), 10.25, None, "abc"])
def test_stp_amounts_that_are_not_whole_centavos_stop_the_reconciliation(monto: object) -> None:
    with pytest.raises(ValueError):
        order_lines([_orden(CLABE_A, monto)], [])


def test_stp_is_asked_for_the_mexico_city_day_as_its_operating_date() -> None:
    assert fecha_operacion(DAY) == 20261126


def _charge(order_id: str, amount: int, paid_at: datetime | None, **fields: Any) -> dict[str, Any]:
    return {
        "id": f"ch_{order_id}",
        "object": "charge",
        "order_id": order_id,
        "amount": amount,
        "created_at": int(datetime(2026, 11, 20, tzinfo=UTC).timestamp()),
        "paid_at": int(paid_at.timestamp()) if paid_at else None,
        "status": "paid" if paid_at else "pending_payment",
        **fields,
    }


def test_conekta_charges_count_on_the_mexico_city_day_they_were_paid() -> None:
    charges = [
        _charge("ord_first", 25_000, FIRST),
        _charge("ord_last", 10_050, LAST),  # 05:59:59 UTC on the 27th: still the 26th there
        _charge("ord_next", 30_000, NEXT),
        _charge("ord_before", 40_000, BEFORE),
        _charge("ord_unpaid", 50_000, None),
    ]
    assert charge_lines(charges, DAY) == {
        ("charge", "ord_first"): 25_000,
        ("charge", "ord_last"): 10_050,
    }


def test_conekta_refunds_count_on_their_own_day_whatever_their_sign() -> None:
    refunds = {
        "object": "list",
        "data": [
            {"id": "r1", "object": "refund", "amount": -5_000, "created_at": int(LAST.timestamp())},
            {"id": "r2", "object": "refund", "amount": 1_000, "created_at": int(FIRST.timestamp())},
            {"id": "r3", "object": "refund", "amount": 7_000, "created_at": int(NEXT.timestamp())},
        ],
    }
    charges = [_charge("ord_paid_before", 25_000, BEFORE, status="refunded", refunds=refunds)]
    assert charge_lines(charges, DAY) == {("refund", "ord_paid_before"): -6_000}


def _transaction(ref: str, base: float, updated: datetime, status: str = "completed") -> Any:
    """A buy transaction as MoonPay's widget API lists it: amounts are JSON numbers (read as
    Decimal, as the client reads them), the fees on top of the fiat exchanged."""
    body = {
        "id": f"uuid-{ref}",
        "createdAt": "2026-11-26T05:50:00.000Z",
        "updatedAt": updated.isoformat().replace("+00:00", "Z"),
        "status": status,
        "baseCurrencyAmount": base,
        "feeAmount": 19.95,
        "extraFeeAmount": 0,
        "networkFeeAmount": 5,
        "baseCurrency": {"code": "mxn"},
        "externalTransactionId": ref,
    }
    return money.loads(json.dumps(body))


def test_moonpay_purchases_count_when_completed_for_the_mxn_paid() -> None:
    transactions = [
        _transaction("pay_first", 475.15, FIRST),  # created the day before there: still counts
        _transaction("pay_last", 0.05, LAST),
        _transaction("pay_next", 475.05, NEXT),
        _transaction("pay_failed", 475.05, FIRST, status="failed"),  # MoonPay returned it
        _transaction("pay_pending", 475.05, FIRST, status="pending"),
    ]
    assert transaction_lines(transactions, DAY) == {
        ("charge", "pay_first"): 50_010,  # 475.15 + 19.95 + 5: what the customer paid
        ("charge", "pay_last"): 2_500,
    }


def test_moonpay_purchases_in_another_currency_stop_the_reconciliation() -> None:
    usd = _transaction("pay_usd", 20.00, FIRST)
    usd["baseCurrency"]["code"] = "usd"
    with pytest.raises(ValueError, match="USD"):
        transaction_lines([usd], DAY)


def _txn(type_: str, category: str, source: object, amount: int) -> dict[str, object]:
    return {"type": type_, "reporting_category": category, "source": source, "amount": amount}


def _stripe_charge(intent: str) -> dict[str, str]:
    return {"id": f"py_{intent}", "object": "charge", "payment_intent": intent}


def _stripe_refund(refund_id: str, intent: str) -> dict[str, str]:
    return {"id": refund_id, "object": "refund", "payment_intent": intent}


def test_stripe_balance_transactions_keep_charges_and_refunds_per_intent() -> None:
    """Keyed by the PaymentIntent the expanded source names, read by reporting category:
    an OXXO or bank transfer payment is type `payment` (a card's would be `charge`)."""
    txns = [
        _txn("payment", "charge", _stripe_charge("pi_1"), 25_000),
        _txn("charge", "charge", _stripe_charge("pi_2"), 10_000),
        _txn("payment_refund", "refund", _stripe_refund("re_1", "pi_1"), -5_000),
        _txn("refund", "refund", _stripe_refund("re_2", "pi_1"), -1_000),
        _txn("payout", "payout", "po_1", -19_000),
    ]
    assert balance_lines(txns) == {
        ("charge", "pi_1"): 25_000,
        ("charge", "pi_2"): 10_000,
        ("refund", "pi_1"): -6_000,
    }


def test_a_failed_stripe_refund_nets_to_nothing_on_the_refund_line() -> None:
    txns = [
        _txn("payment", "charge", _stripe_charge("pi_1"), 25_000),
        _txn("payment_refund", "refund", _stripe_refund("re_1", "pi_1"), -5_000),
        # The money came back: its source is the refund that failed.
        _txn("refund_failure", "refund_failure", _stripe_refund("re_1", "pi_1"), 5_000),
        _txn("payment_refund", "refund", _stripe_refund("re_2", "pi_1"), -2_000),
    ]
    assert balance_lines(txns) == {("charge", "pi_1"): 25_000, ("refund", "pi_1"): -2_000}
