"""A thin async client for the Stripe endpoints cobro uses, with Stripe's real paths and bodies.

Points at https://api.stripe.com in live mode and at the simulator's `/stripe` otherwise.
"""

from typing import Any
from urllib.parse import urlencode

import httpx

from cobro.domain.methods import PaymentMethod
from cobro.domain.payment import PaymentInput
from cobro.psp.errors import PspRejected, PspUnavailable, raise_for_unavailable
from cobro.psp.form import flatten

STRIPE_VERSION = "2024-06-20"  # pin the API version so objects keep their shape


class StripeRejected(PspRejected):
    """A 4xx (not 429) from Stripe, with its error object (`type`, `code`, `message`, and the
    `payment_intent` it was about, when there is one)."""

    def __init__(self, error: dict[str, Any], message: str) -> None:
        super().__init__(message)
        self.error = error


class StripeClient:
    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._http = http

    async def _request(
        self,
        method: str,
        path: str,
        form: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._api_key}", "Stripe-Version": STRIPE_VERSION}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        content = None
        if form is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            content = urlencode(flatten(form))
        try:
            response = await self._http.request(
                method, f"{self._base_url}{path}", headers=headers, content=content
            )
        except httpx.TransportError as exc:  # includes timeouts: the outcome is unknown
            raise PspUnavailable(f"stripe {method} {path}: {exc!r}") from exc
        raise_for_unavailable("stripe", f"{method} {path}", response)
        body: dict[str, Any] = response.json()
        if response.status_code >= 400:
            error = body.get("error", {})
            raise StripeRejected(
                error, f"stripe {error.get('type', 'error')}: {error.get('message', response.text)}"
            )
        return body

    async def create_customer(self, payment: PaymentInput) -> dict[str, Any]:
        form = {
            "name": payment.known_customer.name,
            "email": payment.known_customer.email,
            "metadata": {"cobro_payment_id": payment.payment_id},
        }
        return await self._request(
            "POST", "/v1/customers", form, idempotency_key=f"cobro-customer-{payment.payment_id}"
        )

    async def create_payment_intent(
        self, payment: PaymentInput, oxxo_days: int, customer_id: str | None
    ) -> dict[str, Any]:
        form: dict[str, Any] = {
            "amount": payment.amount,
            "currency": payment.currency.lower(),
            "confirm": True,
            "description": payment.description,
            "metadata": {**payment.metadata, "cobro_payment_id": payment.payment_id},
        }
        if payment.method == PaymentMethod.OXXO:
            form |= {
                "payment_method_types": ["oxxo"],
                "payment_method_data": {
                    "type": "oxxo",
                    "billing_details": {
                        "name": payment.known_customer.name,
                        "email": payment.known_customer.email,
                    },
                },
                "payment_method_options": {"oxxo": {"expires_after_days": oxxo_days}},
            }
        else:
            form |= {
                "customer": customer_id,
                "payment_method_types": ["customer_balance"],
                "payment_method_data": {"type": "customer_balance"},
                "payment_method_options": {
                    "customer_balance": {
                        "funding_type": "bank_transfer",
                        "bank_transfer": {"type": "mx_bank_transfer"},
                    }
                },
            }
        # Derived from the payment id: a retried or re-run activity can never charge twice.
        return await self._request(
            "POST",
            "/v1/payment_intents",
            form,
            idempotency_key=f"cobro-payment-{payment.payment_id}",
        )

    async def retrieve_payment_intent(self, intent_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/v1/payment_intents/{intent_id}")

    async def search_payment_intents(
        self, payment_id: str, page_size: int = 100
    ) -> list[dict[str, Any]]:
        """PaymentIntents created for a payment, found by the metadata cobro sets on them
        (Stripe Search: docs.stripe.com/search#search-query-language), every page."""
        query = f"metadata['cobro_payment_id']:'{payment_id}'"
        params = {"query": query, "limit": str(page_size)}
        intents: list[dict[str, Any]] = []
        while True:
            page = await self._request("GET", f"/v1/payment_intents/search?{urlencode(params)}")
            intents += page["data"]
            if not page.get("has_more") or not page.get("next_page"):
                return intents
            params["page"] = page["next_page"]

    async def list_balance_transactions(self, gte: int, lt: int) -> list[dict[str, Any]]:
        """Balance transactions created in [gte, lt) (unix s), following `has_more` pages, each
        `source` expanded: a Charge or Refund, which names its PaymentIntent."""
        found: list[dict[str, Any]] = []
        params = {
            "created[gte]": str(gte),
            "created[lt]": str(lt),
            "limit": "100",
            "expand[]": "data.source",
        }
        while True:
            page = await self._request("GET", f"/v1/balance_transactions?{urlencode(params)}")
            found += page["data"]
            if not page.get("has_more") or not page["data"]:
                return found
            params["starting_after"] = page["data"][-1]["id"]

    async def cancel_payment_intent(self, intent_id: str) -> dict[str, Any]:
        """The canceled intent. Stripe refuses to cancel an intent twice (400
        `payment_intent_unexpected_state`): when the intent it names is canceled, this cancel
        is a retry of one whose answer was lost, and it is done."""
        try:
            return await self._request(
                "POST",
                f"/v1/payment_intents/{intent_id}/cancel",
                {"cancellation_reason": "abandoned"},
            )
        except StripeRejected as exc:
            intent: dict[str, Any] = exc.error.get("payment_intent") or {}
            unexpected = exc.error.get("code") == "payment_intent_unexpected_state"
            if unexpected and intent.get("id") == intent_id and intent.get("status") == "canceled":
                return intent
            raise

    async def create_refund(
        self, refund_id: str, amount: int, intent_id: str, customer_id: str | None = None
    ) -> dict[str, Any]:
        """Refund a PaymentIntent, or, with `customer_id`, money in that customer's cash balance
        (where Stripe keeps bank transfers that arrived after the intent was canceled)."""
        form: dict[str, Any] = {"amount": amount, "metadata": {"cobro_refund_id": refund_id}}
        if customer_id is not None:
            form |= {"customer": customer_id, "origin": "customer_balance", "currency": "mxn"}
        else:
            form["payment_intent"] = intent_id
        # Keyed by cobro's refund id: a retried activity never refunds twice.
        return await self._request(
            "POST", "/v1/refunds", form, idempotency_key=f"cobro-refund-{refund_id}"
        )

    async def retrieve_refund(self, refund_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/v1/refunds/{refund_id}")
