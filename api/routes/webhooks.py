"""`POST /webhooks/{psp}`: verify, store durably, answer, then signal the payment's workflow.

2xx only once the event is stored, in its final form; the forwarder (api/forwarder.py) signals
the workflow in the background, and its sweep re-sends whatever a crash left unforwarded.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import APIRouter, Request

from api.deps import SessionDep, SettingsDep
from api.forwarder import SWEEP_EVERY_S, InboxItem
from api.problems import DATABASE_ERRORS, Problem
from api.webhook_admission import WebhookAdmission
from cobro.db import inbox_repo, payments_repo
from cobro.domain.payment import PspEvent
from cobro.psp.conekta import webhooks as conekta_webhooks
from cobro.psp.conekta.signature import SignatureError as ConektaSignatureError
from cobro.psp.errors import PspError
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.moonpay import mapping as moonpay_mapping
from cobro.psp.moonpay import webhooks as moonpay_webhooks
from cobro.psp.moonpay.signature import SignatureError as MoonpaySignatureError
from cobro.psp.registry import conekta_client
from cobro.psp.stripe import webhooks as stripe_webhooks
from cobro.psp.stripe.signature import SignatureError as StripeSignatureError
from cobro.settings import Settings

router = APIRouter(tags=["psp webhooks"])
log = logging.getLogger("cobro.webhooks")

MAX_BODY = 256 * 1024

RECEIVERS = ("stripe", "conekta", "moonpay")


async def _conekta_public_key(request: Request, settings: Settings) -> str:
    """The key Conekta signs webhooks with: configured, or (simulator) asked for once."""
    if settings.conekta_webhook_public_key:
        return settings.conekta_webhook_public_key
    cached: str | None = getattr(request.app.state, "conekta_public_key", None)
    if cached is None:
        try:
            async with httpx.AsyncClient(timeout=5) as http:
                cached = await conekta_client(settings, http).create_webhook_key()
        except (PspError, httpx.HTTPError) as exc:
            raise Problem(
                503,
                "The Conekta webhook key is not available yet; retry later.",
                "webhook-key-unavailable",
            ) from exc
        request.app.state.conekta_public_key = cached
    return cached


async def _verify(psp: str, body: bytes, request: Request, settings: Settings) -> InboundEvent:
    headers = {k.lower(): v for k, v in request.headers.items()}
    if psp == "stripe":
        return stripe_webhooks.parse(
            body, headers, settings.stripe_webhook_secret.get_secret_value()
        )
    if psp == "moonpay":
        return moonpay_webhooks.parse(
            body, headers, settings.moonpay_webhook_key.get_secret_value()
        )
    return conekta_webhooks.parse(body, headers, await _conekta_public_key(request, settings))


async def read_body(request: Request) -> bytes:
    """The raw body, refusing anything over 256 KiB before reading or parsing it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise Problem(413, f"Webhook bodies are limited to {MAX_BODY} bytes.", "body-too-large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Problem(413, f"Webhook bodies are limited to {MAX_BODY} bytes.", "body-too-large")
    return bytes(body)


@router.post("/webhooks/{psp}", status_code=200)
async def receive(
    psp: str, request: Request, session: SessionDep, settings: SettingsDep
) -> dict[str, object]:
    if psp not in RECEIVERS or psp not in settings.enabled_psps:
        known = sorted(settings.enabled_psps.intersection(RECEIVERS))
        raise Problem(404, f"No webhook receiver for PSP {psp!r}; known: {known}.", "unknown-psp")
    body = await read_body(request)
    try:
        inbound = await _verify(psp, body, request, settings)
    except (StripeSignatureError, ConektaSignatureError, MoonpaySignatureError) as exc:
        raise Problem(401, f"Webhook signature rejected: {exc}.", "bad-signature") from exc
    except MalformedWebhook as exc:
        raise Problem(400, str(exc), "malformed-webhook") from exc

    admission: WebhookAdmission = request.app.state.webhook_admission
    async with admission.turn(psp):  # 503 when this PSP's turns are all taken
        stored = await store_event(session, psp, inbound, body)
    log.info(
        "%s event %s (%s) stored",
        psp,
        inbound.event.event_id,
        inbound.event_type,
        extra={"payment_id": stored.payment_id},
    )
    if stored.payment_id is None:
        request.app.state.metrics.unmatched.labels(psp).inc()
        return {"received": True, "matched": False}
    if stored.forwarded_at is not None:
        return {"received": True, "duplicate": True}
    # Stored: answer now, and let the forwarder signal the workflow (bench/README.md).
    request.app.state.forwarder.submit(stored.item)
    return {"received": True}


async def _final_form(
    session: SessionDep, psp: str, payment_id: str | None, inbound: InboundEvent
) -> PspEvent:
    """The event as its workflow must receive it. MoonPay's identity (KYC) events name a
    customer, not a purchase; cobro makes one MoonPay customer per payment (matched through
    `externalCustomerId`), so such an event is about that payment's purchase and is stored
    under the purchase's reference."""
    event = inbound.event
    if payment_id is None or psp != "moonpay":
        return event
    if inbound.event_type != moonpay_mapping.IDENTITY_EVENT:
        return event
    reference = await payments_repo.psp_reference_of(session, payment_id)
    return event.model_copy(update={"psp_reference": reference}) if reference else event


# ---- shared by every PSP's receiver (the STP one answers in its own format) ----------------


@dataclass(frozen=True)
class StoredEvent:
    payment_id: str | None  # None: it matched no payment and is kept for ops
    forwarded_at: datetime | None  # set once the workflow got it: a redelivery changes nothing
    rejected_reason: str | None  # the PSP denied it: never forwarded
    item: InboxItem | None  # what the forwarder takes (None when unmatched)


@contextmanager
def _storing(psp: str, event_id: str) -> Iterator[None]:
    """Database failures while storing answer 503, so the PSP retries."""
    try:
        yield
    except DATABASE_ERRORS as exc:
        log.error("could not store %s event %s: %r", psp, event_id, exc)
        raise Problem(503, "The event could not be stored; retry later.", "store-failed") from exc


async def match_event(session: SessionDep, psp: str, inbound: InboundEvent) -> str | None:
    """The payment an event belongs to, or None (503 when the database fails)."""
    with _storing(psp, inbound.event.event_id):
        return await _match(session, psp, inbound)


async def store_event(
    session: SessionDep,
    psp: str,
    inbound: InboundEvent,
    body: bytes,
    payment_id: str | None = None,
    matched: bool = False,
    psp_confirms: bool = False,
) -> StoredEvent:
    """Store the raw event byte-exact, deduplicated on (psp, event id), with the payment it
    belongs to (found here unless `matched`) and the event its workflow may receive, in its
    final form; with `psp_confirms`, that event waits for the PSP's confirmation (STP), which
    the forwarder gets. 503 when the database fails."""
    event_id = inbound.event.event_id
    with _storing(psp, event_id):
        if not matched:
            payment_id = await _match(session, psp, inbound)
        final = None if psp_confirms else await _final_form(session, psp, payment_id, inbound)
        confirm_after = None
        if psp_confirms and payment_id is not None:  # the receiver asks at once; the sweep later
            confirm_after = datetime.now(UTC) + timedelta(seconds=2 * SWEEP_EVERY_S)
        row = await inbox_repo.store(
            session,
            psp,
            event_id,
            inbound.event_type,
            inbound.event.psp_reference,
            body,
            payment_id,
            final.model_dump(mode="json") if final is not None else None,
            confirm_after,
        )
        stored = StoredEvent(
            row.payment_id,
            row.forwarded_at,
            row.rejected_reason,
            InboxItem.of(row) if row.payment_id is not None else None,
        )
        await session.commit()
    if stored.payment_id is None:
        log.warning(
            "unmatched %s event %s for %s kept for ops", psp, event_id, inbound.event.psp_reference
        )
    return stored


async def _match(session: SessionDep, psp: str, inbound: InboundEvent) -> str | None:
    """Find the payment: by the id we put in the PSP's metadata, else by PSP reference."""
    hint = inbound.payment_id_hint
    if hint and await payments_repo.payment_exists(session, hint):
        return hint
    payment = await payments_repo.find_by_psp_reference(session, psp, inbound.event.psp_reference)
    return payment.id if payment else None
