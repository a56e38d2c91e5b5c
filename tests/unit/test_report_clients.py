"""The report calls page through each PSP's list with the PSP's own auth and paging, against a
fake PSP (httpx.MockTransport); a report that cannot be read fails the activity (retried)."""

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from activities.reconciliation import ReconciliationActivities, ReportUnavailable
from cobro.activity_api import ReconcileDay
from cobro.psp.conekta.client import ConektaClient
from cobro.psp.errors import PspUnavailable
from cobro.psp.moonpay.client import PAGE_SIZE, MoonpayClient
from cobro.psp.stp.client import StpClient
from cobro.psp.stp.firma import dev_signer
from cobro.reconciliation import Lines

Handler = Callable[[httpx.Request], httpx.Response]


def _http(handler: Handler) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(handler))


async def test_conekta_walks_the_charge_list_back_until_old_enough() -> None:
    created = [500, 400, 300, 200, 100]  # newest first, two per page
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer key_test"
        assert request.headers["accept"] == "application/vnd.conekta-v2.2.0+json"
        asked.append(dict(request.url.params))
        after = request.url.params.get("next")
        start = created.index(int(after)) + 1 if after else 0
        data = [{"id": str(c), "created_at": c} for c in created[start : start + 2]]
        return httpx.Response(200, json={"object": "list", "has_more": True, "data": data})

    async with _http(handler) as http:
        charges = await ConektaClient("https://conekta.test", "key_test", http).list_charges(350)
    # The second page reaches a charge created before 350: no third page is asked for.
    assert [c["id"] for c in charges] == ["500", "400", "300", "200"]
    assert asked == [{"limit": "250"}, {"limit": "250", "next": "400"}]


async def test_stp_reads_every_page_of_the_days_conciliation() -> None:
    bodies: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        datos = [{"claveRastreo": f"C{body['page']}{i}", "monto": 1.5} for i in range(100)]
        if body["page"] == 1:
            datos = datos[:20]
        return httpx.Response(
            200, json={"estado": 0, "mensaje": "ok", "total": 120, "datos": datos}
        )

    async with _http(handler) as http:
        client = StpClient(
            "https://stp.test/speiws", "https://stp.test", "COBRO", http, signer=dev_signer()
        )
        orders = await client.conciliacion("E", 20261126)
    assert len(orders) == 120
    assert [(b["empresa"], b["tipoOrden"], b["fechaOperacion"], b["page"]) for b in bodies] == [
        ("COBRO", "E", 20261126, 0),
        ("COBRO", "E", 20261126, 1),
    ]
    assert str(orders[0]["monto"]) == "1.5"  # read as Decimal, never float


async def test_moonpay_pages_by_offset_until_a_short_page() -> None:
    full = [{"id": f"t{i}"} for i in range(PAGE_SIZE)]
    pages = {"0": full, str(PAGE_SIZE): [{"id": "last"}]}
    asked: list[dict[str, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Api-Key sk_test"
        assert request.url.path == "/v1/transactions"
        asked.append(dict(request.url.params))
        return httpx.Response(200, json=pages[request.url.params["offset"]])

    async with _http(handler) as http:
        client = MoonpayClient("https://moonpay.test", "sk_test", http)
        found = await client.list_transactions(date(2026, 11, 24), date(2026, 11, 27))
    assert [t["id"] for t in found] == [t["id"] for t in full] + ["last"]
    days = {"startDate": "2026-11-24", "endDate": "2026-11-27", "limit": str(PAGE_SIZE)}
    assert asked == [{**days, "offset": "0"}, {**days, "offset": str(PAGE_SIZE)}]


async def test_a_psp_that_is_down_raises_so_the_activity_retries() -> None:
    async with _http(lambda _request: httpx.Response(503)) as http:
        with pytest.raises(PspUnavailable):
            await MoonpayClient("https://moonpay.test", "sk", http).list_transactions(
                date(2026, 11, 25), date(2026, 11, 26)
            )


async def test_a_report_that_cannot_be_read_fails_the_activity_before_anything_is_stored() -> None:
    async def stripe(day: date) -> Lines:
        return {("charge", "pi_1"): 25_000}

    async def stp(day: date) -> Lines:
        raise PspUnavailable("stp POST conciliacion: HTTP 503")

    class NoDatabase:
        def begin(self) -> None:
            raise AssertionError("nothing is stored when a report is missing")

    activities = ReconciliationActivities(
        NoDatabase(),  # type: ignore[arg-type]
        {"stripe": stripe, "stp": stp},
        None,  # type: ignore[arg-type]
    )
    with pytest.raises(ReportUnavailable, match="stp settlement report for 2026-11-26"):
        await activities.reconcile_day(ReconcileDay(day=date(2026, 11, 26)))
