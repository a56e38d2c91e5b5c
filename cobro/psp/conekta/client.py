"""A thin async client for Conekta's Orders API (developers.conekta.com, API v2.2), and its
charge list (`GET /charges`), which daily reconciliation reads.

JSON bodies, `Authorization: Bearer key_...`, the version in `Accept`, and `Idempotency-Key`.
Points at https://api.conekta.io in live mode and at the simulator's `/conekta` otherwise.
"""

from typing import Any

import httpx

from cobro.psp.errors import PspRejected, PspUnavailable, raise_for_unavailable

ACCEPT = "application/vnd.conekta-v2.2.0+json"
CHARGES_PAGE = 250  # the most Conekta lists per page


class ConektaClient:
    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = http

    async def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": ACCEPT,
            "Accept-Language": "es",
        }
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            response = await self._http.request(
                method, f"{self._base_url}{path}", headers=headers, json=body, params=params
            )
        except httpx.TransportError as exc:  # includes timeouts: the outcome is unknown
            raise PspUnavailable(f"conekta {method} {path}: {exc!r}") from exc
        raise_for_unavailable("conekta", f"{method} {path}", response)
        data: dict[str, Any] = response.json()
        if response.status_code >= 400:
            details = data.get("details") or [{}]
            raise PspRejected(
                f"conekta {data.get('type', 'error')}: {details[0].get('message', response.text)}"
            )
        return data

    async def create_order(self, order: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self.request("POST", "/orders", order, idempotency_key=idempotency_key)

    async def get_order(self, order_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/orders/{order_id}")

    async def cancel_order(self, order_id: str) -> dict[str, Any]:
        return await self.request("POST", f"/orders/{order_id}/cancel")

    async def refund_order(self, order_id: str, amount: int, refund_id: str) -> dict[str, Any]:
        return await self.request(
            "POST",
            f"/orders/{order_id}/refunds",
            {"amount": amount, "reason": "requested_by_client"},
            idempotency_key=f"cobro-refund-{refund_id}",
        )

    async def search_orders(self, text: str) -> list[dict[str, Any]]:
        result = await self.request("GET", "/orders", params={"search": text})
        orders: list[dict[str, Any]] = result["data"]
        return orders

    async def list_charges(self, created_since: int) -> list[dict[str, Any]]:
        """Conekta's charges (`GET /charges`, newest first), back to those created at
        `created_since` (Unix s). The list has no date filter, so its pages are walked back
        (`next`: the last charge's id) until a page reaches that far or there is no more."""
        found: list[dict[str, Any]] = []
        params = {"limit": str(CHARGES_PAGE)}
        while True:
            page = await self.request("GET", "/charges", params=params)
            charges: list[dict[str, Any]] = page.get("data") or []
            found += charges
            if (
                not page.get("has_more")
                or not charges
                or int(charges[-1].get("created_at") or 0) < created_since
            ):
                return found
            params["next"] = str(charges[-1]["id"])

    async def create_webhook_key(self) -> str:
        """A new webhook key pair; Conekta keeps the private key and returns the public one."""
        key = await self.request("POST", "/webhook_keys", {"active": True})
        public_key: str = key["public_key"]
        return public_key
