"""Outgoing merchant webhooks: publish an event, deliver it signed, record every attempt."""

import json
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from cobro.business_metrics import BusinessMetrics
from cobro.db import webhooks_repo
from cobro.db.models import Payment, Refund
from cobro.domain.merchant_events import DeliveryQueue, MerchantEventInput
from cobro.domain.timestamps import rfc3339_utc
from cobro.secret_box import SecretBox
from cobro.views import PaymentOut, RefundOut
from cobro.webhook_queue import enqueue_delivery
from cobro.webhook_urls import Resolver, Unresolvable, UnsafeUrl, UrlPolicy, check, pinned, resolve

DELIVERY_TIMEOUT_S = 10


class MerchantWebhookActivities:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        client: Client,
        box: SecretBox,
        http: httpx.AsyncClient,
        retry_initial_seconds: float,
        retry_for_seconds: int,
        metrics: BusinessMetrics | None = None,
        *,
        policy: UrlPolicy,
        resolver: Resolver = resolve,
    ) -> None:
        self._sessions = sessions
        self._policy = policy
        self._resolver = resolver  # tests swap it to control what a name resolves to
        self._metrics = metrics or BusinessMetrics()
        self._client = client
        self._box = box
        self._http = http
        self._retry_initial_seconds = retry_initial_seconds
        self._retry_for_seconds = retry_for_seconds

    @activity.defn(name="publish_merchant_event")
    async def publish(self, event: MerchantEventInput) -> int:
        """Store the event with a snapshot of its object, then hand each subscribed endpoint's
        delivery to that endpoint's queue for this payment. Returns how many deliveries."""
        async with self._sessions.begin() as session:
            deliveries = await self.store(session, event)
        await self.enqueue(event, deliveries)
        return len(deliveries)

    async def store(
        self, session: AsyncSession, event: MerchantEventInput
    ) -> list[tuple[str, str]]:
        """The event and its deliveries, in the caller's transaction: (delivery, endpoint)."""
        return await webhooks_repo.record_event(
            session,
            event.event_id,
            event.merchant_id,
            event.payment_id,
            event.type,
            await _payload(session, event),
            datetime.now(UTC),
        )

    async def enqueue(self, event: MerchantEventInput, deliveries: list[tuple[str, str]]) -> None:
        """Hand each stored delivery to its endpoint's queue for this payment (once committed)."""
        for delivery_id, endpoint_id in deliveries:
            queue = DeliveryQueue(
                endpoint_id=endpoint_id,
                payment_id=event.payment_id,
                retry_initial_seconds=self._retry_initial_seconds,
                retry_for_seconds=self._retry_for_seconds,
            )
            await enqueue_delivery(self._client, queue, delivery_id)

    @activity.defn(name="deliver_webhook")
    async def deliver(self, delivery_id: str) -> str:
        """One HTTP attempt; raises (so Temporal retries with backoff) unless it got a 2xx."""
        async with self._sessions() as session:
            found = await webhooks_repo.delivery_with_context(session, delivery_id)
        if found is None:
            return "gone"
        delivery, endpoint, event = found
        if delivery.status == "succeeded":
            return "already delivered"
        if endpoint.status != "enabled":
            return f"endpoint {endpoint.status}"
        body = json.dumps(event.payload, separators=(",", ":"))
        now = datetime.now(UTC)
        signature = Webhook(self._box.open(endpoint.secret_encrypted)).sign(delivery.id, now, body)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        }
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        try:
            # Checked now, not only at registration: the name may resolve elsewhere today.
            addresses = await check(endpoint.url, self._policy, self._resolver)
            url, host, extensions = pinned(endpoint.url, addresses[0])
            response = await self._http.post(
                url,
                content=body,
                # close: a pooled TLS connection is keyed by address only, never reuse it for
                # another name (its certificate was checked for this one).
                headers={**headers, **host, "connection": "close"},
                extensions=extensions,
                timeout=DELIVERY_TIMEOUT_S,
            )
            status_code = response.status_code
        except (UnsafeUrl, Unresolvable) as exc:
            error = f"not sent: {exc}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        latency_ms = int((time.monotonic() - started) * 1000)
        ok = status_code is not None and 200 <= status_code < 300
        async with self._sessions.begin() as session:
            await webhooks_repo.record_attempt(
                session, delivery.id, now, status_code, latency_ms, error, ok
            )
        if not ok:
            self._metrics.delivery_failed(status_code)
            raise ApplicationError(f"{endpoint.url} answered {status_code or error}")
        return "delivered"

    @activity.defn(name="give_up_delivery")
    async def give_up(self, delivery_id: str) -> None:
        """Retried for days without success: mark it failed and disable the endpoint until
        the merchant re-enables it (then failed deliveries can be replayed)."""
        async with self._sessions.begin() as session:
            found = await webhooks_repo.delivery_with_context(session, delivery_id)
            if found is None:
                return
            delivery, endpoint, _ = found
            await webhooks_repo.set_delivery_status(session, delivery.id, "failed")
            await webhooks_repo.set_status(
                session, endpoint.id, "disabled", f"delivery {delivery.id} failed for days"
            )
        self._metrics.endpoint_disabled()


async def _payload(session: AsyncSession, event: MerchantEventInput) -> dict[str, Any]:
    if event.refund_id is not None:
        refund = await session.scalar(select(Refund).where(Refund.id == event.refund_id))
        assert refund is not None
        data: dict[str, Any] = RefundOut.model_validate(refund).model_dump(mode="json")
    else:
        payment = await session.scalar(select(Payment).where(Payment.id == event.payment_id))
        assert payment is not None
        data = PaymentOut.model_validate(payment).model_dump(mode="json")
    return {
        "id": event.event_id,
        "type": event.type,
        "created_at": rfc3339_utc(datetime.now(UTC)),
        "data": {"object": data},
    }
