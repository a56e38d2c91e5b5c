"""`POST /webhooks/stp`: STP's deposit notifications ("abonos"), answered as STP expects.

Mounted before the generic `/webhooks/{psp}` route. For each notification:

1. the channel, since STP does not sign notifications: the source address must be in
   STP_ALLOWED_IPS (else 403) and HTTP Basic auth must match STP_WEBHOOK_USER/PASSWORD (else 401);
2. the body: STP's SendAbono fields, `monto` in pesos turned into exact centavos (else 400);
3. stored durably in the webhook inbox (event id `stp:{id}`, deduplicated), matched to the payment
   whose CLABE is the `cuentaBeneficiario`;
4. no payment: per STP_UNMATCHED_RULE, `{"mensaje": "confirmar"}` keeping it for ops (hold), or
   `{"mensaje": "devolver", "id": 1}` so STP returns it to the payer (return);
5. a payment: the forwarder asks STP's own order query (cobro/psp/stp/confirmation.py); once
   STP reports the deposit settled, to this CLABE, for this amount, the payment's workflow gets
   the total STP reports for the CLABE, and STP gets `{"mensaje": "confirmar"}`.

Until the deposit is stored and confirmed the answer is problem+json, never "confirmar": 503
while STP has not confirmed it (the forwarder keeps asking with backoff, and STP retries), 422
when STP's record contradicts it (never credited; kept for ops). A retry of a confirmed deposit
is confirmed and changes nothing.

`POST /webhooks/stp/cambioEstado`: STP's callback when an outbound order (a refund) changes
state, behind the same channel checks. Stored byte-exact in the inbox (event id
`stp:orden:{id}:{estado}`, so a repeated callback is deduplicated), matched to the payment
through its `folioOrigen` (cobro's refund id), answered `{"mensaje": "recibido"}`. The refund's
new state is STP's own consultaOrden answer (cobro/psp/stp/confirmation.py), never the
callback's word: liquidada -> succeeded, devuelta / cancelada -> failed (the amount is
refundable again). A callback for an order cobro does not know is kept for ops.
"""

import logging
from dataclasses import replace

from fastapi import APIRouter, Request

from api.deps import SessionDep, SettingsDep
from api.forwarder import Outcome
from api.problems import DATABASE_ERRORS, Problem
from api.routes.webhooks import match_event, read_body, store_event
from api.webhook_admission import WebhookAdmission
from cobro.db import inbox_repo
from cobro.db.models import Refund
from cobro.psp.inbound import InboundEvent, MalformedWebhook
from cobro.psp.stp import cambio_estado, mapping
from cobro.psp.stp import webhooks as stp_webhooks
from cobro.settings import Settings

router = APIRouter(tags=["psp webhooks"])
log = logging.getLogger("cobro.webhooks.stp")


def _channel(settings: Settings) -> stp_webhooks.StpChannel:
    return stp_webhooks.StpChannel(
        user=settings.stp_webhook_user or "",
        password=settings.stp_webhook_password.get_secret_value(),
        allowed=stp_webhooks.parse_allowlist(settings.stp_allowed_ips or ""),
        empresa=settings.stp_empresa or "",
    )


def _authenticated(request: Request, settings: Settings) -> stp_webhooks.StpChannel:
    if "stp" not in settings.enabled_psps:
        raise Problem(404, "No webhook receiver for PSP 'stp': it is not enabled.", "unknown-psp")
    channel = _channel(settings)
    try:
        stp_webhooks.authenticate(
            channel,
            request.client.host if request.client else None,
            request.headers.get("authorization"),
        )
    except stp_webhooks.ChannelRejected as exc:
        headers = {"WWW-Authenticate": 'Basic realm="cobro-stp"'} if exc.status == 401 else None
        raise Problem(
            exc.status, f"STP notification refused: {exc}.", "stp-channel", headers=headers
        ) from exc
    return channel


@router.post("/webhooks/stp", status_code=200)
async def receive_abono(
    request: Request, session: SessionDep, settings: SettingsDep
) -> dict[str, object]:
    channel = _authenticated(request, settings)
    body = await read_body(request)
    try:
        inbound, abono = stp_webhooks.parse(body, channel.empresa)
    except MalformedWebhook as exc:
        raise Problem(400, str(exc), "malformed-webhook") from exc
    admission: WebhookAdmission = request.app.state.webhook_admission
    async with admission.turn("stp"):  # 503 when STP's turns are taken
        return await _store_and_confirm(request, session, settings, inbound, abono, body)


async def _store_and_confirm(
    request: Request,
    session: SessionDep,
    settings: Settings,
    inbound: InboundEvent,
    abono: mapping.Abono,
    body: bytes,
) -> dict[str, object]:
    payment_id = await match_event(session, "stp", inbound)
    returned = payment_id is None and settings.stp_unmatched_rule == "return"
    if returned:  # ops see what was sent back, not only what was kept
        inbound = replace(inbound, event_type="abono.devuelto")
    stored = await store_event(
        session, "stp", inbound, body, payment_id, matched=True, psp_confirms=True
    )
    if stored.item is None:
        request.app.state.metrics.unmatched.labels("stp").inc()
        if returned:
            log.warning("returning STP deposit %s to unknown CLABE", abono.clave_rastreo)
            return {"mensaje": "devolver", "id": mapping.DEVOLUCION_CUENTA_INEXISTENTE}
        return dict(mapping.CONFIRMAR)
    if stored.forwarded_at is not None:
        return dict(mapping.CONFIRMAR)  # a redelivery: the workflow has it already
    if stored.rejected_reason is not None:
        raise Problem(422, stored.rejected_reason, "deposit-mismatch")

    # Nothing is credited on the notification's word: the forwarder asks STP (now, and again
    # with backoff until STP answers) and the workflow gets only what STP confirms.
    outcome = await request.app.state.forwarder.process(stored.item)
    if outcome == Outcome.REJECTED:
        row = await inbox_repo.get(session, "stp", inbound.event.event_id)
        reason = row.rejected_reason if row else None
        raise Problem(422, reason or "STP's record contradicts it.", "deposit-mismatch")
    if outcome == Outcome.NOT_CONFIRMED_YET:
        raise Problem(503, "The deposit is stored but not confirmed by STP yet.", "not-confirmed")
    return dict(mapping.CONFIRMAR)  # confirmed and stored: the sweep finishes any forwarding


@router.post("/webhooks/stp/cambioEstado", status_code=200)
async def receive_cambio_estado(
    request: Request, session: SessionDep, settings: SettingsDep
) -> dict[str, object]:
    channel = _authenticated(request, settings)
    body = await read_body(request)
    try:
        inbound, cambio = cambio_estado.parse(body, channel.empresa)
    except MalformedWebhook as exc:
        raise Problem(400, str(exc), "malformed-webhook") from exc
    admission: WebhookAdmission = request.app.state.webhook_admission
    async with admission.turn("stp"):  # STP's turns, shared with its deposit notifications
        return await _store_cambio(request, session, inbound, cambio, body)


async def _store_cambio(
    request: Request,
    session: SessionDep,
    inbound: InboundEvent,
    cambio: cambio_estado.CambioEstado,
    body: bytes,
) -> dict[str, object]:
    try:
        refund = await session.get(Refund, cambio.folio_origen)
    except DATABASE_ERRORS as exc:  # STP retries on anything but 2xx
        raise Problem(
            503, "The callback could not be matched; retry later.", "store-failed"
        ) from exc
    payment_id = refund.payment_id if refund is not None else None
    stored = await store_event(
        session, "stp", inbound, body, payment_id, matched=True, psp_confirms=True
    )
    if stored.item is None:  # not a refund cobro made: kept for ops
        request.app.state.metrics.unmatched.labels("stp").inc()
        return dict(cambio_estado.RECIBIDO)
    if stored.forwarded_at is not None or stored.rejected_reason is not None:
        return dict(cambio_estado.RECIBIDO)  # a repeated callback: nothing changes
    outcome = await request.app.state.forwarder.process(stored.item)
    if outcome == Outcome.NOT_CONFIRMED_YET:
        raise Problem(503, "Stored, but STP does not show the state change yet.", "not-confirmed")
    return dict(cambio_estado.RECIBIDO)
