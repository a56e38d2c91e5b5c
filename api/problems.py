"""RFC 9457 problem+json errors for every 4xx/5xx the API returns."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("cobro.api")
MEDIA_TYPE = "application/problem+json"
TITLES = {
    400: "Bad Request",
    500: "Internal Server Error",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    503: "Service Unavailable",
}


class Problem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        slug: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.detail, self.errors, self.headers = status, detail, errors, headers
        self.slug = slug or TITLES.get(status, "error").lower().replace(" ", "-")


def problem_response(problem: Problem) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:cobro:problem:{problem.slug}",
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return JSONResponse(
        body, status_code=problem.status, media_type=MEDIA_TYPE, headers=problem.headers
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


# PostgreSQL unreachable or failing: asyncpg raises OSError subclasses while connecting,
# SQLAlchemy wraps errors once connected.
DATABASE_ERRORS = (SQLAlchemyError, OSError)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(
                Problem(400, "The request body is not valid JSON.", "malformed-json", errors)
            )
        return problem_response(
            Problem(
                422, "The request has invalid fields; see `errors`.", "validation-error", errors
            )
        )

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(OSError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.error("database unavailable: %r", exc)
        return problem_response(
            Problem(
                503,
                "The database is unavailable; retry shortly.",
                "database-unavailable",
                headers={"Retry-After": "5"},
            )
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem_response(
            Problem(500, "Something went wrong on our side; it is logged.", "internal-error")
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(
            Problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))
        )


class ProblemDetails(BaseModel):
    """An RFC 9457 problem, as every error answer of the API is written (OpenAPI schema)."""

    type: str = Field(examples=["urn:cobro:problem:rate-limited"])
    title: str
    status: int
    detail: str
    errors: list[dict[str, Any]] | None = Field(default=None, description="Field problems")


PROBLEM_DESCRIPTIONS = {
    401: "Missing, wrong or revoked API key",
    404: "Not found, or another merchant's",
    409: "Conflicts with the object's state",
    422: "Invalid fields (see `errors`)",
    429: "Rate limited: retry after `Retry-After` seconds",
    503: "Unavailable for now: retry after `Retry-After` seconds",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: its problem+json answers, for the OpenAPI contract."""
    schema = ProblemDetails.model_json_schema()
    retry_after = {"description": "Seconds to wait", "schema": {"type": "integer"}}
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        responses[status] = {
            "description": PROBLEM_DESCRIPTIONS.get(status, TITLES.get(status, "Error")),
            "content": {MEDIA_TYPE: {"schema": schema}},
        }
        if status in (429, 503):
            responses[status]["headers"] = {"Retry-After": retry_after}
    return responses
