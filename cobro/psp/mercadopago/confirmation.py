"""A Mercado Pago notification becomes an event only on MP's own word.

The notification names a payment and nothing else. The forwarder asks `GET /v1/payments/{id}`
(at once, then with backoff while MP cannot answer) and the workflow gets the payment's state
as MP reports it; a payment MP does not know is never forwarded (kept for ops).

Why not a "go look" event the workflow's poll resolves: polls wait COBRO_POLL_AFTER_SECONDS
(an hour by default), so every OXXO or SPEI payment would succeed an hour late; and why not
fetch inside the receiver: MP's API being slow or down would then fail the notification,
which MP retries only every 15 minutes. Storing it first and confirming it from the inbox
answers MP at once and credits the payment as soon as MP's API says so.
"""

from datetime import UTC, datetime

from cobro.domain.payment import PspEvent
from cobro.psp.errors import PspError
from cobro.psp.inbound import ConfirmationDenied, NotConfirmedYet
from cobro.psp.mercadopago import mapping, webhooks
from cobro.psp.mercadopago.client import MercadopagoClient, NotFoundAtMercadopago


class MercadopagoConfirmer:
    def __init__(self, client: MercadopagoClient) -> None:
        self._client = client

    async def confirm(self, raw_body: bytes) -> PspEvent:
        notification = webhooks.read(raw_body)
        payment_id = str(notification["data"]["id"])
        if str(notification.get("type") or notification.get("topic")) != "payment":
            raise ConfirmationDenied(f"not a payment notification: {notification.get('type')}")
        try:
            payment = await self._client.get_payment(payment_id)
        except NotFoundAtMercadopago as exc:  # MP knows no such payment: never credited
            raise ConfirmationDenied(str(exc)) from exc
        except PspError as exc:  # MP is down, or refuses to say for now (a bad token)
            raise NotConfirmedYet(str(exc)) from exc
        updated = payment.get("date_last_updated")
        try:
            occurred_at = mapping.parse_time(updated) if updated else datetime.now(UTC)
        except ValueError:
            occurred_at = datetime.now(UTC)
        try:
            return mapping.event_from_payment(payment, occurred_at)
        except (KeyError, TypeError, ValueError) as exc:  # kept for ops, not asked forever
            raise ConfirmationDenied(f"MP's payment {payment_id} is unreadable: {exc!r}") from exc
