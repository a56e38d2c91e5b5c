"""Merchant webhook endpoints (SPEC §6): register, list, delete, re-enable, see deliveries,
replay one."""

import base64
import secrets
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel

from api.deps import CurrentMerchant, SessionDep, SettingsDep, TemporalDep
from api.openapi_docs import merchant, problem
from api.problems import Problem
from api.schemas import (
    AttemptOut,
    DeliveryList,
    DeliveryOut,
    WebhookEndpointBody,
    WebhookEndpointList,
    WebhookEndpointOut,
)
from cobro import webhook_urls
from cobro.db import webhooks_repo
from cobro.db.models import WebhookEndpoint
from cobro.domain.merchant_events import DeliveryQueue
from cobro.secret_box import SecretBox
from cobro.settings import Settings
from cobro.webhook_queue import enqueue_delivery

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["merchant webhooks"])

NOT_FOUND = problem("`endpoint-not-found`: no such endpoint for this merchant.")
OWNED = merchant({404: NOT_FOUND})
ENDPOINT_LINKS = {
    name: {"operationId": op, "parameters": {"endpoint_id": "$response.body#/id"}}
    for name, op in [
        ("GetEndpoint", "get_endpoint"),
        ("DeleteEndpoint", "delete_endpoint"),
        ("EnableEndpoint", "enable_endpoint"),
        ("ListDeliveries", "list_deliveries"),
    ]
}


class EndpointDeleted(BaseModel):
    id: str
    object: Literal["webhook_endpoint"] = "webhook_endpoint"
    deleted: Literal[True] = True


class DeliveryReplayed(BaseModel):
    id: str
    status: Literal["pending"] = "pending"
    replayed: Literal[True] = True


def _box(request: Request) -> SecretBox:
    settings: Settings = request.app.state.settings  # it requires the key outside simulator mode
    return SecretBox(settings.cobro_secret_key.get_secret_value())


async def _owned(session: SessionDep, merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = await webhooks_repo.endpoint(session, merchant_id, endpoint_id)
    if endpoint is None:
        raise Problem(
            404, f"No webhook endpoint {endpoint_id!r} for this merchant.", "endpoint-not-found"
        )
    return endpoint


@router.post(
    "",
    status_code=201,
    response_model=WebhookEndpointOut,
    responses=merchant(
        {
            201: {"description": "Created; `secret` is shown only here.", "links": ENDPOINT_LINKS},
            422: "`webhook-url-refused`: the URL is not http(s) (https only in live mode), or "
            "its host is a private, loopback or otherwise internal address.",
        },
        body=True,
    ),
)
async def create_endpoint(
    body: WebhookEndpointBody,
    merchant_id: CurrentMerchant,
    session: SessionDep,
    request: Request,
    settings: SettingsDep,
) -> WebhookEndpointOut:
    try:
        await webhook_urls.check(str(body.url), settings.webhook_url_policy)
    except webhook_urls.UnsafeUrl as exc:
        raise Problem(422, f"Webhook URL refused: {exc}.", "webhook-url-refused") from None
    except webhook_urls.Unresolvable:
        pass  # may resolve later; every delivery checks the addresses again
    # Standard Webhooks secret: whsec_ + base64 of 24-64 random bytes. Shown only here.
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    endpoint = await webhooks_repo.create_endpoint(
        session, merchant_id, str(body.url), body.events, _box(request).seal(secret)
    )
    await session.commit()
    return WebhookEndpointOut.model_validate(endpoint).model_copy(update={"secret": secret})


@router.get("", response_model=WebhookEndpointList, responses=merchant(validated=False))
async def list_endpoints(merchant_id: CurrentMerchant, session: SessionDep) -> WebhookEndpointList:
    endpoints = await webhooks_repo.endpoints_of(session, merchant_id)
    return WebhookEndpointList(data=[WebhookEndpointOut.model_validate(e) for e in endpoints])


@router.get("/{endpoint_id}", response_model=WebhookEndpointOut, responses=OWNED)
async def get_endpoint(
    endpoint_id: str, merchant_id: CurrentMerchant, session: SessionDep
) -> WebhookEndpointOut:
    return WebhookEndpointOut.model_validate(await _owned(session, merchant_id, endpoint_id))


@router.delete("/{endpoint_id}", response_model=EndpointDeleted, responses=OWNED)
async def delete_endpoint(
    endpoint_id: str, merchant_id: CurrentMerchant, session: SessionDep
) -> EndpointDeleted:
    endpoint = await _owned(session, merchant_id, endpoint_id)
    await webhooks_repo.set_status(session, endpoint.id, "deleted")
    await session.commit()
    return EndpointDeleted(id=endpoint.id)


@router.post("/{endpoint_id}/enable", response_model=WebhookEndpointOut, responses=OWNED)
async def enable_endpoint(
    endpoint_id: str, merchant_id: CurrentMerchant, session: SessionDep
) -> WebhookEndpointOut:
    endpoint = await _owned(session, merchant_id, endpoint_id)
    await webhooks_repo.set_status(session, endpoint.id, "enabled")
    await session.commit()
    await session.refresh(endpoint)
    return WebhookEndpointOut.model_validate(endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList, responses=OWNED)
async def list_deliveries(
    endpoint_id: str, merchant_id: CurrentMerchant, session: SessionDep
) -> DeliveryList:
    endpoint = await _owned(session, merchant_id, endpoint_id)
    rows = await webhooks_repo.deliveries_of(session, endpoint.id)
    return DeliveryList(
        data=[
            DeliveryOut(
                id=d.id,
                event_id=e.id,
                event_type=e.type,
                status=d.status,
                created_at=d.created_at,
                attempts=[AttemptOut.model_validate(a) for a in attempts],
            )
            for d, e, attempts in rows
        ]
    )


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    status_code=202,
    response_model=DeliveryReplayed,
    responses=merchant(
        {
            404: "`endpoint-not-found` or `delivery-not-found`.",
            409: "`endpoint-disabled`: re-enable the endpoint first.",
        }
    ),
)
async def replay_delivery(
    endpoint_id: str,
    delivery_id: str,
    merchant_id: CurrentMerchant,
    session: SessionDep,
    temporal: TemporalDep,
    settings: SettingsDep,
) -> DeliveryReplayed:
    endpoint = await _owned(session, merchant_id, endpoint_id)
    found = await webhooks_repo.delivery_with_context(session, delivery_id)
    if found is None or found[0].endpoint_id != endpoint.id:
        raise Problem(404, f"No delivery {delivery_id!r} for this endpoint.", "delivery-not-found")
    if endpoint.status != "enabled":
        raise Problem(
            409, "Re-enable the endpoint (POST .../enable) before replaying.", "endpoint-disabled"
        )
    delivery, _, event = found
    await webhooks_repo.set_delivery_status(session, delivery.id, "pending")
    await session.commit()
    queue = DeliveryQueue(
        endpoint_id=endpoint.id,
        payment_id=event.payment_id,
        retry_initial_seconds=settings.webhook_retry_initial_seconds,
        retry_for_seconds=settings.webhook_retry_for_seconds,
    )
    await enqueue_delivery(temporal, queue, delivery.id)
    return DeliveryReplayed(id=delivery.id)
