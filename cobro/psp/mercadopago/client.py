"""A thin async client for the Mercado Pago endpoints cobro uses (Payments API v1 and the
release report), with MP's paths and JSON bodies.

`Authorization: Bearer <access token>`; writes carry `X-Idempotency-Key` so a retried call
never acts twice. Points at https://api.mercadopago.com in live mode and at the simulator's
`/mercadopago` otherwise.
"""

from typing import Any

import httpx

from cobro.psp.errors import PspRejected, PspUnavailable, raise_for_unavailable

SEARCH_PAGE = 100


class NotFoundAtMercadopago(PspRejected):
    """HTTP 404: MP has no such payment, refund or report file."""


class MercadopagoClient:
    def __init__(self, base_url: str, access_token: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._token = access_token
        self._http = http

    async def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if idempotency_key:
            headers["X-Idempotency-Key"] = idempotency_key
        try:
            response = await self._http.request(
                method, f"{self._base_url}{path}", headers=headers, json=body, params=params
            )
        except httpx.TransportError as exc:  # includes timeouts: the outcome is unknown
            raise PspUnavailable(f"mercadopago {method} {path}: {exc!r}") from exc
        raise_for_unavailable("mercadopago", f"{method} {path}", response)
        if response.status_code == 404:
            raise NotFoundAtMercadopago(f"mercadopago {method} {path}: HTTP 404")
        if response.status_code >= 400:
            try:
                error = response.json()
            except ValueError:
                error = {}
            message = error.get("message") if isinstance(error, dict) else None
            raise PspRejected(
                f"mercadopago {method} {path}: HTTP {response.status_code} "
                f"{message or response.text[:200]}"
            )
        return response

    async def _json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = (await self._send(method, path, **kwargs)).json()
        return data

    async def create_payment(self, payment: dict[str, Any], idempotency_key: str) -> dict[str, Any]:
        return await self._json(
            "POST", "/v1/payments", body=payment, idempotency_key=idempotency_key
        )

    async def get_payment(self, payment_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/payments/{payment_id}")

    async def cancel_payment(self, payment_id: str) -> dict[str, Any]:
        """MP cancels only `pending` / `in_process` payments; anything else is a 400."""
        return await self._json("PUT", f"/v1/payments/{payment_id}", body={"status": "cancelled"})

    async def refund(
        self, payment_id: str, amount_pesos: float, idempotency_key: str
    ) -> dict[str, Any]:
        """A partial refund when `amount` is less than what is left; MP refunds the rest."""
        return await self._json(
            "POST",
            f"/v1/payments/{payment_id}/refunds",
            body={"amount": amount_pesos},
            idempotency_key=idempotency_key,
        )

    async def get_refund(self, payment_id: str, refund_id: str) -> dict[str, Any]:
        return await self._json("GET", f"/v1/payments/{payment_id}/refunds/{refund_id}")

    async def search_payments(self, external_reference: str) -> list[dict[str, Any]]:
        """Payments cobro created for one of its payments (`external_reference` is its id)."""
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            params = {
                "external_reference": external_reference,
                "limit": str(SEARCH_PAGE),
                "offset": str(offset),
            }
            page = await self._json("GET", "/v1/payments/search", params=params)
            results: list[dict[str, Any]] = page.get("results") or []
            found += results
            offset += len(results)
            total = int((page.get("paging") or {}).get("total") or 0)
            if not results or offset >= total:
                return found

    async def create_settlement_report(self, begin_date: str, end_date: str) -> None:
        """Ask MP to build the "all transactions" (settlement) report for [begin, end]; it
        answers 202 and builds the file later."""
        await self._send(
            "POST",
            "/v1/account/settlement_report",
            body={"begin_date": begin_date, "end_date": end_date},
        )

    async def list_settlement_reports(self) -> list[dict[str, Any]]:
        reports: list[dict[str, Any]] = (
            await self._send("GET", "/v1/account/settlement_report/list")
        ).json()
        return reports

    async def download_settlement_report(self, file_name: str) -> str:
        return (await self._send("GET", f"/v1/account/settlement_report/{file_name}")).text
