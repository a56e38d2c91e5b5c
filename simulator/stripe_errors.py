"""Stripe's error answers: `{"error": {"type", "code", "message"}}` with its HTTP status, and
the PaymentIntent the request was about when there is one (docs.stripe.com/api/errors)."""

from typing import Any

from fastapi.responses import JSONResponse


class StripeError(Exception):
    def __init__(
        self,
        status: int,
        type_: str,
        message: str,
        code: str | None = None,
        payment_intent: dict[str, Any] | None = None,
    ) -> None:
        self.status, self.type, self.message, self.code = status, type_, message, code
        # Stripe's error object names the PaymentIntent a failed request was about.
        self.payment_intent = payment_intent


def error_response(exc: StripeError) -> JSONResponse:
    error: dict[str, Any] = {"type": exc.type, "code": exc.code, "message": exc.message}
    if exc.payment_intent is not None:
        error["payment_intent"] = exc.payment_intent
    return JSONResponse({"error": error}, status_code=exc.status)
