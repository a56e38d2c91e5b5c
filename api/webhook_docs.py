"""What the PSP webhook receivers (`/webhooks/{psp}`, `/webhooks/stp`) answer, for the OpenAPI
schema. PSPs call these, not merchants; they are documented so every answer of the API is."""

from typing import Any, Literal

from pydantic import BaseModel

from api.openapi_docs import INTERNAL, RETRY_AFTER, Responses, problem

STP_BASIC = "stpBasic"  # the security scheme api/openapi.py declares for STP's HTTP Basic auth


class WebhookAck(BaseModel):
    received: bool
    matched: bool | None = None  # false: no payment matched; kept for ops
    duplicate: bool | None = None  # true: a redelivery of an event already forwarded


class StpAnswer(BaseModel):
    """STP's own answer format: `confirmar`, or `devolver` with the return reason's id."""

    mensaje: Literal["confirmar", "devolver"]
    id: int | None = None


class StpReceived(BaseModel):
    """STP's acknowledgement format for a cambioEstado callback."""

    mensaje: Literal["recibido"]


def _json_body(description: str) -> dict[str, Any]:
    schema = {"type": "object", "description": description}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


TOO_LARGE = problem("`body-too-large`: bodies are limited to 256 KiB.")
STORE_FAILED = problem(
    "`store-failed` or `database-unavailable`: the event was not stored; retry.", RETRY_AFTER
)

BUSY = "`webhooks-busy`: too many of this PSP's events at once, nothing stored; send it again. "

PSP_RESPONSES: Responses = {
    400: problem("`malformed-webhook`: the signed body is not an event cobro understands."),
    401: problem("`bad-signature`: the PSP's signature header does not verify."),
    404: problem("`unknown-psp`: no receiver for this PSP, or it is not enabled."),
    413: TOO_LARGE,
    500: INTERNAL,
    503: problem(
        f"{BUSY}Or `store-failed`, `database-unavailable`, or `webhook-key-unavailable` (the "
        "PSP's signing key could not be fetched yet): retry.",
        RETRY_AFTER,
    ),
}
PSP_EXTRA = _json_body("The PSP's event, byte-exact as it signed it")

STP_RESPONSES: Responses = {
    200: {"model": StpAnswer, "description": "Stored and confirmed by STP, or kept/returned."},
    400: problem("`malformed-webhook`: not STP's SendAbono fields, or `monto` not exact."),
    401: problem(
        "`stp-channel`: HTTP Basic credentials missing or wrong.",
        {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}},
    ),
    403: problem("`stp-channel`: the source address is not in STP_ALLOWED_IPS."),
    404: problem("`unknown-psp`: STP is not enabled."),
    413: TOO_LARGE,
    422: problem("`deposit-mismatch`: STP's own record contradicts the notification."),
    500: INTERNAL,
    503: problem(
        f"{BUSY}Or `not-confirmed`: stored, STP has not confirmed it yet; or `store-failed`, "
        "`database-unavailable`. STP retries.",
        RETRY_AFTER,
    ),
}
STP_EXTRA = {
    **_json_body("STP's deposit notification (SendAbono): `id`, `cuentaBeneficiario`, `monto`..."),
    "security": [{STP_BASIC: []}],
}

CAMBIO_ESTADO_RESPONSES: Responses = {
    200: {"model": StpReceived, "description": "Stored (or a repeat, or kept for ops)."},
    **{status: STP_RESPONSES[status] for status in (401, 403, 404, 413, 500)},
    400: problem("`malformed-webhook`: not STP's cambioEstado fields."),
    503: problem(
        f"{BUSY}Or `not-confirmed`: stored, STP's own query does not show the change yet; "
        "or `store-failed`, `database-unavailable`. STP retries.",
        RETRY_AFTER,
    ),
}
CAMBIO_ESTADO_EXTRA = {
    **_json_body("STP's cambioEstado callback: `id`, `empresa`, `folioOrigen`, `estado`..."),
    "security": [{STP_BASIC: []}],
}
