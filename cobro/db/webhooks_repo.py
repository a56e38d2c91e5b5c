"""All SQL about merchant webhook endpoints, events, deliveries and attempts."""

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cobro.db.models import MerchantEvent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from cobro.domain.ids import new_id


async def create_endpoint(
    session: AsyncSession, merchant_id: str, url: str, events: list[str], secret_encrypted: str
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        merchant_id=merchant_id,
        url=url,
        events={"types": events},
        secret_encrypted=secret_encrypted,
        status="enabled",
    )
    session.add(endpoint)
    await session.flush()
    await session.refresh(endpoint)
    return endpoint


async def endpoints_of(session: AsyncSession, merchant_id: str) -> list[WebhookEndpoint]:
    rows = await session.scalars(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.merchant_id == merchant_id, WebhookEndpoint.status != "deleted")
        .order_by(WebhookEndpoint.created_at)
    )
    return list(rows)


async def endpoint(
    session: AsyncSession,
    merchant_id: str,
    endpoint_id: str,
) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.merchant_id == merchant_id,
            WebhookEndpoint.status != "deleted",
        )
    )


async def set_status(
    session: AsyncSession, endpoint_id: str, status: str, reason: str | None = None
) -> None:
    await session.execute(
        update(WebhookEndpoint)
        .where(WebhookEndpoint.id == endpoint_id)
        .values(status=status, disabled_reason=reason)
    )


async def record_event(
    session: AsyncSession,
    event_id: str,
    merchant_id: str,
    payment_id: str,
    type_: str,
    payload: dict[str, Any],
    at: datetime,
) -> list[tuple[str, str]]:
    """Store the event once and a delivery per subscribed, enabled endpoint.

    Returns (delivery id, endpoint id) pairs, including ones stored by an earlier attempt.
    """
    await session.execute(
        pg_insert(MerchantEvent)
        .values(
            id=event_id,
            merchant_id=merchant_id,
            payment_id=payment_id,
            type=type_,
            payload=payload,
            created_at=at,
        )
        .on_conflict_do_nothing()
    )
    for ep in await endpoints_of(session, merchant_id):
        types = ep.events.get("types", [])
        if ep.status == "enabled" and ("*" in types or type_ in types):
            await session.execute(
                pg_insert(WebhookDelivery)
                .values(id=new_id("msg"), endpoint_id=ep.id, event_id=event_id)
                .on_conflict_do_nothing(constraint="uq_webhook_deliveries_event")
            )
    rows = await session.execute(
        select(WebhookDelivery.id, WebhookDelivery.endpoint_id).where(
            WebhookDelivery.event_id == event_id
        )
    )
    return [(r.id, r.endpoint_id) for r in rows]


async def delivery_with_context(
    session: AsyncSession, delivery_id: str
) -> tuple[WebhookDelivery, WebhookEndpoint, MerchantEvent] | None:
    row = (
        await session.execute(
            select(WebhookDelivery, WebhookEndpoint, MerchantEvent)
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .join(MerchantEvent, MerchantEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.id == delivery_id)
        )
    ).first()
    return (row[0], row[1], row[2]) if row else None


async def record_attempt(
    session: AsyncSession,
    delivery_id: str,
    at: datetime,
    status_code: int | None,
    latency_ms: int,
    error: str | None,
    succeeded: bool,
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            at=at,
            status_code=status_code,
            latency_ms=latency_ms,
            error=error,
        )
    )
    values: dict[str, Any] = {
        "attempts": WebhookDelivery.attempts + 1,
        "last_status_code": status_code,
        "updated_at": func.now(),
    }
    if succeeded:
        values["status"] = "succeeded"
    await session.execute(
        update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
    )


async def set_delivery_status(session: AsyncSession, delivery_id: str, status: str) -> None:
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=status, updated_at=func.now())
    )


async def deliveries_of(
    session: AsyncSession,
    endpoint_id: str,
    limit: int = 100,
) -> list[tuple[WebhookDelivery, MerchantEvent, list[WebhookAttempt]]]:
    rows = (
        await session.execute(
            select(WebhookDelivery, MerchantEvent)
            .join(MerchantEvent, MerchantEvent.id == WebhookDelivery.event_id)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc())
            .limit(limit)
        )
    ).all()
    ids = [r[0].id for r in rows]
    attempts = list(
        await session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(ids))
            .order_by(WebhookAttempt.id)
        )
    )
    by_delivery: dict[str, list[WebhookAttempt]] = {i: [] for i in ids}
    for attempt in attempts:
        by_delivery[attempt.delivery_id].append(attempt)
    return [(d, e, by_delivery[d.id]) for d, e in rows]


async def disabled_endpoints(session: AsyncSession) -> int:
    """The API's metrics: merchant endpoints cobro disabled (they get no event until the
    merchant enables them again). A small table: one row per merchant URL."""
    count: int = (
        await session.scalar(
            select(func.count())
            .select_from(WebhookEndpoint)
            .where(WebhookEndpoint.status == "disabled")
        )
        or 0
    )
    return count
