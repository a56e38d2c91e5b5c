"""RFC 9457 problem+json errors for every 4xx/5xx the API returns."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path

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
    502: "Bad Gateway",
    503: "Service Unavailable",
}
# Every 429 and 503 says when to come back (the OpenAPI schema promises it).
RETRY_AFTER_STATUSES = (429, 503)
DEFAULT_RETRY_AFTER_S = "5"


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


def problem_response(problem: Problem, instance: str) -> JSONResponse:
    """The body api/openapi_docs.py's ProblemOut describes; `instance` is the request's path."""
    body: dict[str, Any] = {
        "type": f"urn:cobro:problem:{problem.slug}",
        "title": TITLES.get(problem.status, "Error"),
        "status": problem.status,
        "detail": problem.detail,
        "instance": instance,
    }
    if problem.errors:
        body["errors"] = problem.errors
    headers = dict(problem.headers or {})
    if problem.status in RETRY_AFTER_STATUSES:
        headers.setdefault("Retry-After", DEFAULT_RETRY_AFTER_S)
    return JSONResponse(body, status_code=problem.status, media_type=MEDIA_TYPE, headers=headers)


def _allowed_methods(request: Request, starlettes: str) -> str:
    """Every method the OpenAPI schema documents at this path. Starlette's own 405 names only
    the first route that matched the path, so GET /v1/payments's sibling POST went missing."""
    methods: set[str] = set()
    for template, operations in request.app.openapi()["paths"].items():
        if compile_path(template)[0].match(request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods)) if methods else starlettes  # undocumented: /metrics


def _missing_idempotency_key(errors: list[dict[str, Any]]) -> bool:
    """Only the required Idempotency-Key header is missing: the 400 it always was."""
    return bool(errors) and all(
        e["type"] == "missing" and e["field"].lower() == "header.idempotency-key" for e in errors
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]


# PostgreSQL unreachable or failing: asyncpg raises OSError subclasses while connecting,
# SQLAlchemy wraps errors once connected.
DATABASE_ERRORS = (SQLAlchemyError, OSError)


def _refused_value(exc: Exception) -> bool:
    """SQLSTATE class 22, "data exception" (asyncpg's errors reach SQLAlchemy as a generic
    DBAPIError, with the SQLSTATE on the original)."""
    sqlstate = getattr(exc.orig, "sqlstate", None) if isinstance(exc, DBAPIError) else None
    return isinstance(sqlstate, str) and sqlstate.startswith("22")


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            problem = Problem(400, "The request body is not valid JSON.", "malformed-json", errors)
        elif _missing_idempotency_key(errors):
            problem = Problem(
                400,
                "Send an `Idempotency-Key` header (for example a UUID) so a retried "
                "request never acts twice.",
                "idempotency-key-missing",
            )
        else:
            problem = Problem(
                422, "The request has invalid fields; see `errors`.", "validation-error", errors
            )
        return problem_response(problem, request.url.path)

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(OSError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        if _refused_value(exc):
            # PostgreSQL refused a value itself (e.g. a NUL character in text): the request's
            # fault, not an outage. Request schemas refuse what they can see first.
            log.warning("value refused by PostgreSQL: %r", exc)
            return problem_response(
                Problem(422, "A value in the request cannot be stored.", "invalid-value"),
                request.url.path,
            )
        log.error("database unavailable: %r", exc)
        return problem_response(
            Problem(
                503,
                "The database is unavailable; retry shortly.",
                "database-unavailable",
                headers={"Retry-After": "5"},
            ),
            request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return problem_response(
            Problem(500, "Something went wrong on our side; it is logged.", "internal-error"),
            request.url.path,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request, headers.get("Allow", ""))
        return problem_response(
            Problem(exc.status_code, str(exc.detail), headers=headers), request.url.path
        )
