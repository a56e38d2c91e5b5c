"""`/openapi.json`: FastAPI's schema of the routes, finished so it says exactly what the API does.

- every 4xx/5xx body is filed under `application/problem+json` (api/problems.py's media type);
- the create-payment body is a oneOf per method with that method's real limits
  (api/payment_contract.py);
- the schema is generated once per app and committed as docs/openapi.json
  (`make openapi`; tests/e2e/test_openapi_contract.py fails when they drift apart).
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from api.openapi_docs import VALIDATION
from api.payment_contract import add_variants
from api.problems import MEDIA_TYPE
from api.webhook_docs import STP_BASIC

PROBLEM_REF = "#/components/schemas/ProblemDetails"
FASTAPI_422_REF = "#/components/schemas/HTTPValidationError"


def operation_id(route: APIRoute) -> str:
    """The route function's name (`create_payment`): what generated clients call the method."""
    return route.name


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def build(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    for path in schema["paths"].values():
        for operation in path.values():
            _problems_as_problem_json(operation["responses"])
    schemas = schema["components"]["schemas"]
    # FastAPI's own 422 body is never sent: api/problems.py answers validation-error instead.
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    add_variants(schemas)
    schema["components"]["securitySchemes"][STP_BASIC] = {
        "type": "http",
        "scheme": "basic",
        "description": "STP_WEBHOOK_USER / STP_WEBHOOK_PASSWORD, from an STP_ALLOWED_IPS address",
    }
    return schema


def _problems_as_problem_json(responses: dict[str, Any]) -> None:
    default_422 = responses.get("422", {}).get("content", {}).get("application/json", {})
    if default_422.get("schema", {}).get("$ref") == FASTAPI_422_REF:
        responses["422"] = {
            "description": VALIDATION,
            "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}},
        }
    for status, response in responses.items():
        content = response.get("content", {})
        body = content.get("application/json")
        if status[0] in "45" and body is not None and body["schema"].get("$ref") == PROBLEM_REF:
            content[MEDIA_TYPE] = content.pop("application/json")
