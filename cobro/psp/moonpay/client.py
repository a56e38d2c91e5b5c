"""A thin async client for the MoonPay Platform API calls cobro makes (JSON over HTTPS).

Documented (dev.moonpay.com, Platform API): base URL https://api.moonpay.com, server-side
calls authenticated with `Authorization: Api-Key sk_...` (test or live mode follows the key),
answers wrapped as `{"data": ...}`, `POST /platform/v1/quotes/buy` (a buy quote: `source`,
`destination`, `fees`, `wallet`, `paymentMethod`, a locked rate with an expiry and a
signature), `GET /platform/v1/transactions/{id}` (`status` pending | completed | failed,
with `stages`) and `GET /platform/v1/transactions` (the list by creation date, `startDate` /
`endDate`, paged with `pageInfo.nextCursor`: what daily reconciliation reads). Errors carry
`moonPayErrorCode` and `message` (as the widget API documents).

Simulated, not MoonPay's documented API (the Platform API starts purchases from its client
SDK and frames, which a server-side orchestrator cannot drive): `POST
/platform/v1/transactions` (create a purchase from a signed quote, deduplicated on
`externalTransactionId`, answering with a `hostedUrl` the customer pays at),
`GET /platform/v1/transactions?externalTransactionId=` and
`POST /platform/v1/transactions/{id}/cancel`. They are shaped like the documented calls so that
a real server-side purchase API (such as MoonPay's widget-era `externalTransactionId` lookups)
would replace them here and nowhere else.
"""

from datetime import date
from typing import Any

import httpx

from cobro.domain import money
from cobro.psp.errors import PspRejected, PspUnavailable, raise_for_unavailable


class MoonpayClient:
    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = http

    async def _request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The answer's `data`."""
        return (await self._call(method, path, body, params)).get("data")

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The whole answer (`data`, and `pageInfo` on lists)."""
        headers = {"Authorization": f"Api-Key {self._api_key}", "Accept": "application/json"}
        try:
            response = await self._http.request(
                method, f"{self._base_url}{path}", headers=headers, json=body, params=params
            )
        except httpx.TransportError as exc:  # includes timeouts: the outcome is unknown
            raise PspUnavailable(f"moonpay {method} {path}: {exc!r}") from exc
        raise_for_unavailable("moonpay", f"{method} {path}", response)
        try:
            data = money.loads(response.content)  # amounts and fees: Decimal, never float
        except ValueError:
            raise PspRejected(
                f"moonpay {method} {path}: HTTP {response.status_code}, not JSON"
            ) from None
        if response.status_code >= 400 or not isinstance(data, dict):
            error = data if isinstance(data, dict) else {}
            raise PspRejected(
                f"moonpay {error.get('moonPayErrorCode', response.status_code)}: "
                f"{error.get('message', response.text)}"
            )
        return data

    async def buy_quote(self, body: dict[str, Any]) -> dict[str, Any]:
        quote: dict[str, Any] = await self._request("POST", "/platform/v1/quotes/buy", body)
        return quote

    async def create_transaction(self, body: dict[str, Any]) -> dict[str, Any]:
        transaction: dict[str, Any] = await self._request("POST", "/platform/v1/transactions", body)
        return transaction

    async def get_transaction(self, transaction_id: str) -> dict[str, Any]:
        transaction: dict[str, Any] = await self._request(
            "GET", f"/platform/v1/transactions/{transaction_id}"
        )
        return transaction

    async def cancel_transaction(self, transaction_id: str) -> dict[str, Any]:
        transaction: dict[str, Any] = await self._request(
            "POST", f"/platform/v1/transactions/{transaction_id}/cancel"
        )
        return transaction

    async def list_transactions(self, start: date, end: date) -> list[dict[str, Any]]:
        """Transactions created from `start` to `end` (ISO dates, both included), every page
        of MoonPay's list (`GET /platform/v1/transactions`, cursor in `pageInfo.nextCursor`)."""
        found: list[dict[str, Any]] = []
        params = {"startDate": start.isoformat(), "endDate": end.isoformat()}
        while True:
            page = await self._call("GET", "/platform/v1/transactions", params=params)
            found += [t for t in page.get("data") or [] if isinstance(t, dict)]
            cursor = (page.get("pageInfo") or {}).get("nextCursor")
            if not cursor:
                return found
            params["cursor"] = str(cursor)

    async def find_transactions(self, external_transaction_id: str) -> list[dict[str, Any]]:
        found = await self._request(
            "GET",
            "/platform/v1/transactions",
            params={"externalTransactionId": external_transaction_id},
        )
        return [t for t in found or [] if isinstance(t, dict)]
