"""`POST /webhooks/stp`: STP's deposit notifications ("abonos"), answered as STP expects.

Mounted before the generic `/webhooks/{psp}` route. For each notification:

1. the channel, since STP does not sign notifications: the source address must be in
   STP_ALLOWED_IPS (else 403) and HTTP Basic auth must match STP_WEBHOOK_USER/PASSWORD (else 401);
2. the body: STP's SendAbono fields, `monto` in pesos turned into exact centavos (else 400);
3. stored durably in the webhook inbox (event id `stp:{id}`, deduplicated), matched to the payment
   whose CLABE is the `cuentaBeneficiario`;
4. no payment: per STP_UNMATCHED_RULE, `{"mensaje": "confirmar"}` keeping it for ops (hold), or
   `{"mensaje": "devolver", "id": 1}` so STP returns it to the payer (return);
5. a payment: the deposit is confirmed with STP's own order query, then the payment's workflow
   gets the total STP confirms for the CLABE, and STP gets `{"mensaje": "confirmar"}`.

Until the deposit is stored and delivered the answer is problem+json (4xx/5xx), never
"confirmar", so STP retries; a retry of a delivered deposit is confirmed and changes nothing.
"""

import logging
from dataclasses import replace

import httpx
from fastapi import APIRouter, Request

from api.deps import SessionDep, SettingsDep, TemporalDep
from api.problems import Problem
from api.routes.webhooks import forward_event, match_event, read_body, store_event
from cobro.psp.errors import PspError, PspUnavailable
from cobro.psp.inbound import MalformedWebhook
from cobro.psp.registry import stp_adapter
from cobro.psp.stp import mapping
from cobro.psp.stp import webhooks as stp_webhooks
from cobro.psp.stp.adapter import DepositMismatch, DepositNotConfirmed
from cobro.settings import Settings

router = APIRouter(tags=["psp webhooks"])
log = logging.getLogger("cobro.webhooks.stp")

# How long cobro waits for STP's order queries while STP waits for the answer.
QUERY_TIMEOUT_S = 10


def _channel(settings: Settings) -> stp_webhooks.StpChannel:
    return stp_webhooks.StpChannel(
        user=settings.stp_webhook_user or "",
        password=settings.stp_webhook_password or "",
        allowed=stp_webhooks.parse_allowlist(settings.stp_allowed_ips or ""),
        empresa=settings.stp_empresa or "",
    )


@router.post("/webhooks/stp", status_code=200)
async def receive_abono(
    request: Request, session: SessionDep, temporal: TemporalDep, settings: SettingsDep
) -> dict[str, object]:
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
    body = await read_body(request)
    try:
        inbound, abono = stp_webhooks.parse(body, channel.empresa)
    except MalformedWebhook as exc:
        raise Problem(400, str(exc), "malformed-webhook") from exc

    payment_id = await match_event(session, "stp", inbound)
    returned = payment_id is None and settings.stp_unmatched_rule == "return"
    if returned:  # ops see what was sent back, not only what was kept
        inbound = replace(inbound, event_type="abono.devuelto")
    stored = await store_event(session, "stp", inbound, body, payment_id, matched=True)
    if stored.payment_id is None:
        if returned:
            log.warning("returning STP deposit %s to unknown CLABE", abono.clave_rastreo)
            return {"mensaje": "devolver", "id": mapping.DEVOLUCION_CUENTA_INEXISTENTE}
        return dict(mapping.CONFIRMAR)
    if stored.forwarded_at is not None:
        return dict(mapping.CONFIRMAR)  # a redelivery: the workflow has it already

    # Nothing is credited on the notification's word: STP must report the deposit as settled,
    # to this CLABE, for this amount; the workflow then gets STP's total for the CLABE.
    try:
        async with httpx.AsyncClient(timeout=QUERY_TIMEOUT_S) as http:
            adapter = stp_adapter(settings, http)
            await adapter.confirm_deposit(abono)
            total, count = await adapter.deposits_total(abono.cuenta_beneficiario)
    except DepositMismatch as exc:
        log.error("STP deposit %s does not match STP's record: %s", abono.clave_rastreo, exc)
        raise Problem(422, str(exc), "deposit-mismatch") from exc
    except (DepositNotConfirmed, PspUnavailable) as exc:
        raise Problem(
            503, f"The deposit is stored but not confirmed by STP yet: {exc}.", "not-confirmed"
        ) from exc
    except PspError as exc:
        raise Problem(503, f"STP's order query failed: {exc}.", "not-confirmed") from exc
    event = inbound.event.model_copy(
        update={
            "amount_received": total,
            "psp_status": f"abono {abono.clave_rastreo}, {count} in all",
        }
    )
    await forward_event(session, temporal, "stp", stored, event)
    return dict(mapping.CONFIRMAR)
