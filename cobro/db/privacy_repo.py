"""Per-payment data keys, and erasing a customer's personal data from PostgreSQL.

Erasure keeps what accounting needs (amounts, statuses, events, refunds, PSP references) and
removes who paid: the payment's customer, description, metadata and crypto wallet; the copies in
merchant events (webhook payload snapshots) and in the PSP webhook inbox (raw bodies, which
carry names and emails); and the payment's data key, which makes the sealed copy in Temporal
history unrecoverable. The erasure itself is recorded without what was erased.
"""

from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import MerchantEvent, Payment, PaymentKey, PrivacyErasure, WebhookInbox
from cobro.domain.ids import new_id
from cobro.privacy.sealing import ERASED, ERASED_CUSTOMER
from cobro.secret_box import SecretBox

ERASED_BODY = b'{"erased": true}'


async def create_key(session: AsyncSession, box: SecretBox, payment_id: str, key: bytes) -> None:
    session.add(PaymentKey(payment_id=payment_id, key_sealed=box.seal(key.hex())))


async def key_of(session: AsyncSession, box: SecretBox, payment_id: str) -> bytes | None:
    sealed = await session.scalar(
        select(PaymentKey.key_sealed).where(PaymentKey.payment_id == payment_id)
    )
    return bytes.fromhex(box.open(sealed)) if sealed is not None else None


class ErasureRefused(Exception):
    """The customer has a payment still moving money (open, or a deposit STP has not confirmed
    yet): erasing now could lose it. Finish or cancel it first."""


OPEN = ("pending", "awaiting_payment", "processing")


async def erase_customer(
    session: AsyncSession,
    email: str,
    requested_by: str,
    reason: str,
    merchant_id: str | None = None,
) -> PrivacyErasure:
    """Erase every payment of the customer with this email, compared case-insensitively (of one
    merchant, or of all when ops erase); returns the erasure's record. ErasureRefused while one
    of them is still open or has a PSP notification waiting for confirmation."""
    query = select(Payment).where(
        func.lower(Payment.customer["email"].astext) == email.strip().lower()
    )
    if merchant_id is not None:
        query = query.where(Payment.merchant_id == merchant_id)
    payments = list(await session.scalars(query.with_for_update()))
    ids = [p.id for p in payments]
    busy = [p.id for p in payments if p.status in OPEN]
    busy += await session.scalars(
        select(WebhookInbox.payment_id).where(
            WebhookInbox.payment_id.in_(ids),
            WebhookInbox.event.is_(None),
            WebhookInbox.rejected_reason.is_(None),
        )
    )
    if busy:
        raise ErasureRefused(
            f"payments {', '.join(sorted(set(busy)))} are still open or have a deposit being "
            "confirmed; cancel them or wait until they end, then erase"
        )
    for payment in payments:
        payment.customer, payment.description, payment.metadata_ = ERASED_CUSTOMER, None, {}
        payment.crypto = None
        if payment.instructions and "wallet_address" in payment.instructions:  # older payments
            payment.instructions = {**payment.instructions, "wallet_address": ERASED}
    if ids:
        await session.execute(delete(PaymentKey).where(PaymentKey.payment_id.in_(ids)))
        await session.execute(
            update(WebhookInbox)
            .where(WebhookInbox.payment_id.in_(ids))
            .values(raw_body=ERASED_BODY)
        )
        events = await session.scalars(
            select(MerchantEvent).where(MerchantEvent.payment_id.in_(ids))
        )
        for event in events:  # payment snapshots sent to the merchant's endpoints
            event.payload = _scrubbed(event.payload)
    erasure = PrivacyErasure(
        id=new_id("era"),
        merchant_id=merchant_id,
        requested_by=requested_by,
        reason=reason,
        payments=len(ids),
    )
    session.add(erasure)
    return erasure


def _scrubbed(payload: dict[str, Any]) -> dict[str, Any]:
    """A merchant event's payload without the customer (refund snapshots carry none)."""
    shown = dict((payload.get("data") or {}).get("object") or {})
    if "customer" not in shown:
        return payload
    shown.update(customer=ERASED_CUSTOMER, description=None, metadata={})
    if isinstance(shown.get("instructions"), dict) and "wallet_address" in shown["instructions"]:
        # MoonPay's widget URL names the wallet too
        shown["instructions"] = {
            **shown["instructions"],
            "wallet_address": ERASED,
            **({"hosted_url": ERASED} if "hosted_url" in shown["instructions"] else {}),
        }
    return {**payload, "data": {**payload["data"], "object": shown}}
