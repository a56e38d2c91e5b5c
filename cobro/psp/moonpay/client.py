"""A thin async client for the MoonPay calls cobro makes server to server (JSON over HTTPS).

All documented, in the widget API's "Server to server API" (dev.moonpay.com/api-reference/
widget; base URL https://api.moonpay.com, `Authorization: Api-Key sk_...`, test or live mode
following the key): `GET /v1/transactions/{transactionId}` (getbuytransaction: one buy
transaction), `GET /v1/transactions/ext/{externalTransactionId}` (an array: the transactions
made with that external id) and `GET /v1/transactions` (getbuytransactions: a list, newest
first). Errors carry `moonPayErrorCode` and `message`. Answers are bare JSON (no `data`
envelope); amounts are JSON numbers, read as Decimal.

Unconfirmed: the list's date and paging parameters. The documented query object names
`externalTransactionId` and `customerId`; cobro also sends `startDate` / `endDate` (ISO dates)
and pages with `limit` / `offset` until a short page, as MoonPay's list endpoints commonly do:
to be checked with MoonPay before live reconciliation relies on it.

There is no call to create or cancel a purchase: the customer creates it in MoonPay's widget
(cobro/psp/moonpay/widget.py), and MoonPay documents no cancellation of a buy transaction.
"""

from datetime import date
from typing import Any
from urllib.parse import quote

import httpx

from cobro.domain import money
from cobro.psp.errors import PspRejected, PspUnavailable, raise_for_unavailable

PAGE_SIZE = 50


class MoonpayClient:
    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = http

    async def _get(self, path: str, params: dict[str, str] | None = None) -> Any:
        headers = {"Authorization": f"Api-Key {self._api_key}", "Accept": "application/json"}
        try:
            response = await self._http.get(
                f"{self._base_url}{path}", headers=headers, params=params
            )
        except httpx.TransportError as exc:  # includes timeouts: the outcome is unknown
            raise PspUnavailable(f"moonpay GET {path}: {exc!r}") from exc
        raise_for_unavailable("moonpay", f"GET {path}", response)
        try:
            data = money.loads(response.content)  # amounts and fees: Decimal, never float
        except ValueError:
            status = response.status_code
            raise PspRejected(f"moonpay GET {path}: HTTP {status}, not JSON") from None
        if response.status_code >= 400:
            error = data if isinstance(data, dict) else {}
            raise PspRejected(
                f"moonpay {error.get('moonPayErrorCode', response.status_code)}: "
                f"{error.get('message', response.text)}"
            )
        return data

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        transaction = await self._get(f"/v1/transactions/{quote(transaction_id, safe='')}")
        if not isinstance(transaction, dict):
            raise PspRejected(f"moonpay transaction {transaction_id}: not an object")
        return transaction

    async def find_transactions(self, external_transaction_id: str) -> list[dict[str, Any]]:
        """The buy transactions made with this `externalTransactionId` (cobro's payment id)."""
        found = await self._get(f"/v1/transactions/ext/{quote(external_transaction_id, safe='')}")
        if not isinstance(found, list):
            raise PspRejected(f"moonpay transactions of {external_transaction_id}: not a list")
        return [t for t in found if isinstance(t, dict)]

    async def list_transactions(self, start: date, end: date) -> list[dict[str, Any]]:
        """Buy transactions created from `start` to `end` (ISO dates, both included), every
        page (see the module docstring for what is unconfirmed)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {
                "startDate": start.isoformat(),
                "endDate": end.isoformat(),
                "limit": str(PAGE_SIZE),
                "offset": str(offset),
            }
            page = await self._get("/v1/transactions", params)
            if not isinstance(page, list):
                raise PspRejected("moonpay transaction list: not a list")
            found += [t for t in page if isinstance(t, dict)]
            if len(page) < PAGE_SIZE:
                return found
            offset += len(page)
