"""`POST /webhooks/{psp}`: verify, store durably, answer, then signal the payment's workflow.

2xx only once the event is stored, in its final form; the forwarder (api/forwarder.py) signals
the workflow in the background, and its sweep re-sends whatever a crash left unforwarded.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Request

from api.deps import SessionDep, SettingsDep
from api.forwarder import SWEEP_EVERY_S, InboxItem
from api.problems import DATABASE_ERRORS, Problem
from api.webhook_admission import WebhookAdmission
from api.webhook_docs import PSP_EXTRA, PSP_RESPONSES, WebhookAck
from cobro.db import inbox_repo, payments_repo
from cobro.psp.connectors import BY_NAME, CONNECTORS
from cobro.psp.inbound import (
    InboundEvent,
    MalformedWebhook,
    SignatureError,
    VerifierUnavailable,
    WebhookVerifier,
)
from cobro.settings import Settings

router = APIRouter(tags=["psp webhooks"])
log = logging.getLogger("cobro.webhooks")

MAX_BODY = 256 * 1024

# The connectors with signed webhooks at /webhooks/{psp} (others have their own receiver).
RECEIVERS = tuple(c.name for c in CONNECTORS if c.wiring().webhook_verifier is not None)


def _verifier(psp: str, request: Request, settings: Settings) -> WebhookVerifier:
    """The PSP's verifier, built once per app (it may keep a key it fetched)."""
    verifiers: dict[str, WebhookVerifier] | None = getattr(request.app.state, "psp_verifiers", None)
    if verifiers is None:
        verifiers = request.app.state.psp_verifiers = {}
    verifier = verifiers.get(psp)
    if verifier is None:
        make = BY_NAME[psp].wiring().webhook_verifier
        assert make is not None
        verifier = verifiers[psp] = make(settings)
    return verifier


async def _verify(psp: str, body: bytes, request: Request, settings: Settings) -> InboundEvent:
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        query = dict(request.query_params)
        return await _verifier(psp, request, settings).verify(body, headers, query)
    except VerifierUnavailable as exc:
        raise Problem(503, str(exc), "webhook-key-unavailable") from exc


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


@router.post(
    "/webhooks/{psp}",
    status_code=200,
    response_model=WebhookAck,
    response_model_exclude_none=True,
    responses=PSP_RESPONSES,
    openapi_extra=PSP_EXTRA,
)
async def receive(
    psp: Annotated[str, Path(description=f"The PSP: one of {', '.join(RECEIVERS)}")],
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
) -> dict[str, object]:
    if psp not in RECEIVERS or psp not in settings.enabled_psps:
        known = sorted(settings.enabled_psps.intersection(RECEIVERS))
        raise Problem(404, f"No webhook receiver for PSP {psp!r}; known: {known}.", "unknown-psp")
    body = await read_body(request)
    try:
        inbound = await _verify(psp, body, request, settings)
    except SignatureError as exc:
        raise Problem(401, f"Webhook signature rejected: {exc}.", "bad-signature") from exc
    except MalformedWebhook as exc:
        raise Problem(400, str(exc), "malformed-webhook") from exc

    # A connector with a confirmer counts an event only once the PSP's own query confirms it.
    confirms = BY_NAME[psp].wiring().confirmer is not None
    admission: WebhookAdmission = request.app.state.webhook_admission
    async with admission.turn(psp):  # 503 when this PSP's turns are all taken
        stored = await store_event(session, psp, inbound, body, psp_confirms=confirms)
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
    belongs to (found here unless `matched`) and the event its workflow may receive; with
    `psp_confirms`, that event waits for the PSP's confirmation (STP, Mercado Pago), which the
    forwarder gets. 503 when the database fails."""
    event_id = inbound.event.event_id
    with _storing(psp, event_id):
        if not matched:
            payment_id = await _match(session, psp, inbound)
        final = None if psp_confirms else inbound.event
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
