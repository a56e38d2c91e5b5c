"""What routes declare in `responses=`: every problem+json answer they can give, with its headers.

Each route lists its own statuses with a description of when it answers them; the shared ones
(auth, the database down, a bug) come from `merchant()`. api/openapi.py files every 4xx/5xx
body under `application/problem+json`, the media type api/problems.py sends.
"""

from typing import Any

from pydantic import BaseModel, Field

Responses = dict[int | str, dict[str, Any]]
# A route's own answers: a full response, or a problem+json one given by its description.
Extra = dict[int, str | dict[str, Any]]

RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
BEARER_CHALLENGE = {
    "WWW-Authenticate": {
        "description": "`Bearer`: send the API key as `Authorization: Bearer sk_...`.",
        "required": True,
        "schema": {"type": "string"},
    }
}
IDEMPOTENCY_KEY = (
    "Any unique string (a UUID, an order id) identifying this request: a retry with the same "
    "key and body answers the first result (200) and acts once; the same key with another body "
    "is a 409."
)


class FieldError(BaseModel):
    field: str = Field(description="Where, e.g. `body.amount` or `query.limit`")
    message: str
    type: str = Field(description="Machine-readable, e.g. `missing`, `amount_out_of_range`")
    min: int | None = Field(default=None, description="amount_out_of_range: the lowest allowed")
    max: int | None = Field(default=None, description="amount_out_of_range: the highest allowed")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem, as every 4xx/5xx answer of cobro's API carries it."""

    type: str = Field(description="`urn:cobro:problem:<slug>`; the slug says what went wrong")
    title: str = Field(description="The status code's reason phrase")
    status: int
    detail: str = Field(description="What went wrong, for a human")
    instance: str = Field(description="The request's path")
    errors: list[FieldError] | None = Field(
        default=None, description="Per-field errors (400 malformed-json, 422 validation-error)"
    )


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"model": ProblemDetails, "description": description}
    if headers:
        response["headers"] = headers
    return response


UNAUTHORIZED = problem(
    "`missing-api-key` or `invalid-api-key`: no valid `Authorization: Bearer` API key.",
    BEARER_CHALLENGE,
)
DATABASE_DOWN = "`database-unavailable`: PostgreSQL is unreachable; retry after `Retry-After`."
INTERNAL = problem("`internal-error`: a bug on cobro's side; it is logged.")
RATE_LIMITED = problem(
    "`rate-limited`: past this merchant's rate limit for creates (payments, refunds) or reads; "
    "retry after `Retry-After`.",
    RETRY_AFTER,
)
VALIDATION = (
    "`validation-error`: a field breaks the schema; `errors` says which and why. "
    "`invalid-value`: PostgreSQL refused a value."
)
MALFORMED = "`malformed-json`: the body is not JSON."


def merchant(
    extra: Extra | None = None, *, validated: bool = True, body: bool = False
) -> Responses:
    """The answers of an authenticated merchant route: its own `extra`, plus 401, 429, 500 and
    503 (and 422 when it has parameters or a body, 400 when it reads a JSON body)."""
    extra = dict(extra or {})
    responses: Responses = {401: UNAUTHORIZED, 429: RATE_LIMITED, 500: INTERNAL}
    if body:
        responses[400] = problem(_join(MALFORMED, extra.pop(400, None)))
    if validated:
        responses[422] = problem(_join(VALIDATION, extra.pop(422, None)))
    responses[503] = problem(_join(DATABASE_DOWN, extra.pop(503, None)), RETRY_AFTER)
    for status, more in extra.items():
        responses[status] = more if isinstance(more, dict) else problem(more)
    return responses


def _join(common: str, more: Any) -> str:
    if more is None:
        return common
    return f"{common} {more if isinstance(more, str) else more['description']}"
