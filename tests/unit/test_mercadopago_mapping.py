"""Mercado Pago's payments, refunds and settlement report in cobro's terms: exact centavos,
every documented payment and refund status mapped, and an unknown refund status refused."""

import json
from datetime import date
from typing import Any

import httpx
import pytest

from cobro.domain.refund_status import UnknownRefundStatus
from cobro.psp.inbound import ConfirmationDenied
from cobro.psp.mercadopago import mapping
from cobro.psp.mercadopago import reconciliation as report
from cobro.psp.mercadopago.client import MercadopagoClient
from cobro.psp.mercadopago.confirmation import MercadopagoConfirmer

# "Payment creation results" (mercadopago.com.mx developers): every `status`, and what it is.
DOCUMENTED = {
    "pending": "other",
    "in_process": "processing",
    "authorized": "processing",
    "approved": "paid",
    "rejected": "failed",
    "cancelled": "canceled",
    "refunded": "other",
    "charged_back": "other",
}


def payment(status: str, detail: str = "", **fields: Any) -> dict[str, Any]:
    return {"id": 51096146182, "status": status, "status_detail": detail, **fields} | {
        "transaction_amount": fields.get("transaction_amount", 250.5)
    }


@pytest.mark.parametrize(("centavos", "pesos"), [(1, 0.01), (25_050, 250.5), (100_000_000, 1e6)])
def test_amounts_convert_exactly_both_ways(centavos: int, pesos: float) -> None:
    assert mapping.to_pesos(centavos) == pesos
    assert mapping.to_centavos(pesos) == centavos
    assert mapping.to_centavos(str(pesos)) == centavos


@pytest.mark.parametrize("amount", [0.001, "1.005", "abc", None, True, [1]])
def test_an_amount_that_is_not_whole_centavos_is_refused(amount: object) -> None:
    with pytest.raises(ValueError):
        mapping.to_centavos(amount)


@pytest.mark.parametrize(("status", "kind"), sorted(DOCUMENTED.items()))
def test_every_payment_status_maps(status: str, kind: str) -> None:
    event = mapping.event_from_payment(
        payment(status, "accredited"), mapping.parse_time("2026-01-01T00:00:00Z")
    )
    assert event.kind == kind and event.psp_reference == "51096146182"
    paid = status in ("approved", "refunded", "charged_back")
    assert event.amount_received == (25_050 if paid else 0)
    assert (event.failure_reason is not None) == (kind == "failed")


def test_the_mapping_covers_exactly_the_documented_statuses() -> None:
    assert mapping.STATUS_KINDS == DOCUMENTED


def test_times_are_read_with_their_offset_and_never_as_local_time() -> None:
    at = mapping.parse_time("2026-05-10T13:43:14.586-04:00")
    assert at.isoformat() == "2026-05-10T17:43:14.586000+00:00"
    with pytest.raises(ValueError, match="has no UTC offset"):
        mapping.parse_time("2026-05-10T13:43:14")


def test_an_expired_ticket_expires_and_the_same_state_is_one_event() -> None:
    at = mapping.parse_time("2026-01-01T00:00:00-06:00")
    expired = mapping.event_from_payment(payment("cancelled", "expired"), at)
    assert expired.kind == "expired"
    assert (
        expired.event_id == mapping.event_from_payment(payment("cancelled", "expired"), at).event_id
    )
    assert (
        expired.event_id
        != mapping.event_from_payment(payment("cancelled", "by_collector"), at).event_id
    )


def test_oxxo_and_spei_instructions() -> None:
    fallback = mapping.parse_time("2026-01-05T00:00:00Z")
    ticket = payment(
        "pending",
        payment_type_id="ticket",
        date_of_expiration="2026-01-04T23:59:59.000-06:00",
        transaction_details={
            "payment_method_reference_id": "24304329",
            "external_resource_url": "https://v",
        },
        barcode={"content": "123"},
    )
    oxxo, expires_at = mapping.instructions(ticket, fallback)
    assert oxxo == {
        "type": "oxxo",
        "reference": "24304329",
        "barcode": "123",
        "voucher_url": "https://v",
        "expires_at": "2026-01-05T05:59:59Z",
    }
    assert expires_at == mapping.parse_time("2026-01-05T05:59:59Z")
    transfer = payment(
        "pending",
        payment_type_id="bank_transfer",
        transaction_details={"external_resource_url": "https://i"},
        point_of_interaction={
            "transaction_data": {
                "bank_info": {
                    "collector": {"account_number": "646180111111111116", "long_name": "STP"}
                }
            }
        },
    )
    spei, spei_expires = mapping.instructions(transfer, fallback)
    assert spei_expires == fallback
    assert (spei["type"], spei["clabe"], spei["bank"], spei["hosted_instructions_url"]) == (
        "spei",
        "646180111111111116",
        "STP",
        "https://i",
    )


REFUNDS = {
    "approved": "succeeded",
    "in_process": "pending",
    "rejected": "failed",
    "cancelled": "failed",
}


@pytest.mark.parametrize(("status", "expected"), sorted(REFUNDS.items()))
def test_every_refund_status_maps(status: str, expected: str) -> None:
    refund = {"id": 9, "payment_id": 51096146182, "amount": 10.0, "status": status}
    result = mapping.refund_result(refund, "re_cobro")
    assert (result.status, result.psp_reference, result.refund_id) == (
        expected,
        "51096146182/9",
        "re_cobro",
    )
    assert (result.failure_reason is not None) == (expected == "failed")


@pytest.mark.parametrize("status", ["succeeded", "", None, 1])
def test_an_unknown_refund_status_raises(status: object) -> None:
    with pytest.raises(UnknownRefundStatus, match="mercadopago refund status"):
        mapping.refund_result({"id": 9, "payment_id": 1, "status": status})


CSV = """EXTERNAL_REFERENCE{s}SOURCE_ID{s}TRANSACTION_TYPE{s}TRANSACTION_AMOUNT{s}TRANSACTION_DATE
pay_1{s}111{s}SETTLEMENT{s}250.50{s}2026-03-02T10:00:00.000-06:00
pay_1{s}111{s}REFUND{s}-100.00{s}2026-03-02T11:00:00.000-06:00
pay_1{s}111{s}REFUND{s}50.25{s}2026-03-02T12:00:00.000-06:00
pay_2{s}222{s}SETTLEMENT{s}10.00{s}2026-03-03T00:00:01.000-06:00
pay_3{s}333{s}CHARGEBACK{s}-5.00{s}2026-03-02T10:00:00.000-06:00
"""


@pytest.mark.parametrize("separator", [",", ";"])
def test_the_settlement_report_in_lines(separator: str) -> None:
    lines = report.report_lines(CSV.format(s=separator), date(2026, 3, 2))
    # The next day's payment and a chargeback are not the day's charges or refunds.
    assert lines == {("charge", "111"): 25_050, ("refund", "111"): -15_025}


async def test_an_unreadable_payment_from_mp_is_denied_and_kept_not_asked_forever() -> None:
    """MP's answer to `GET /v1/payments/{id}` lacks the amount of an approved payment: the
    notification is denied (kept for ops), not retried by the sweep every 2 s for ever."""
    unreadable = {"id": 123, "status": "approved", "status_detail": "accredited"}

    def mercadopago(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/payments/123"
        return httpx.Response(200, json=unreadable)

    async with httpx.AsyncClient(transport=httpx.MockTransport(mercadopago)) as http:
        confirmer = MercadopagoConfirmer(MercadopagoClient("http://mp", "token", http))
        notification = {"type": "payment", "action": "payment.updated", "data": {"id": "123"}}
        with pytest.raises(ConfirmationDenied, match="MP's payment 123 is unreadable"):
            await confirmer.confirm(json.dumps(notification).encode())
