"""`cobro codec-server`: Temporal's remote codec protocol over cobro's payload codec, so the Web UI
and the `temporal` CLI show decrypted payloads to whoever holds the codec token.

Protocol (docs.temporal.io "Codec Server"; samples-go codec-server/protocol.md):
`POST <endpoint>/encode` and `POST <endpoint>/decode` take and return `{"payloads": [...]}`,
the protobuf JSON of `temporal.api.common.v1.Payloads` (metadata values and data in base64);
only the last path segment says which. The UI and the CLI append `/decode` to the endpoint they
are given.

Authentication, two ways to present the same token (COBRO_CODEC_TOKEN):
- `Authorization: Bearer <token>` on `/encode` and `/decode` — the CLI's `--codec-auth`;
- the token as a path segment, endpoint `http://host:port/token/<token>` — for the Web UI of the
  dev server. That UI sends `Authorization` only with "pass access token", which sends its own
  OIDC login's token and only to an https endpoint; the dev server has neither login nor https.
  A query parameter cannot carry it either: the UI builds `endpoint + "/decode?..."`, which
  would land inside the query. Whoever can load that UI can read the endpoint from its
  settings, so there UI access is codec access; production puts the UI behind its own login.
Missing token: 401; wrong token: 401 `invalid_token` (RFC 6750); a browser Origin that is not
allowed: 403. Preflights (OPTIONS) from allowed origins are answered without the token, as
browsers send none. Errors are RFC 9457 problem+json. Nothing here logs a payload or a path.
"""

import hmac
from collections.abc import Awaitable, Callable

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payload, Payloads

from cobro.payload_codec import EncryptionCodec, PayloadDecryptError

MAX_BODY_BYTES = 8 * 1024 * 1024  # a history's worth of payloads per request is far less
PROBLEM = "application/problem+json"
ALLOWED_HEADERS = "Authorization, Content-Type, X-Namespace"  # what the UI and CLI send
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    422: "Unprocessable Content",
}
Reveal = Callable[[list[Payload]], Awaitable[list[Payload]]]


class CodecProblem(Exception):
    def __init__(self, status: int, slug: str, detail: str, **headers: str) -> None:
        super().__init__(detail)
        self.status, self.slug, self.detail, self.headers = status, slug, detail, headers


def _problem(exc: CodecProblem, headers: dict[str, str] | None = None) -> JSONResponse:
    body = {
        "type": f"urn:cobro:problem:{exc.slug}",
        "title": _TITLES[exc.status],
        "status": exc.status,
        "detail": exc.detail,
    }
    return JSONResponse(
        body, exc.status, headers={**(headers or {}), **exc.headers}, media_type=PROBLEM
    )


async def _not_routed(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    detail = "POST <endpoint>/encode or <endpoint>/decode; GET /healthz"
    slug = _TITLES[status].lower().replace(" ", "-")
    allow = exc.headers if isinstance(exc, HTTPException) and exc.headers else {}
    return _problem(CodecProblem(status, slug, detail, **allow))


def create_app(
    codec: EncryptionCodec, token: str, allowed_origins: list[str], reveal: Reveal | None = None
) -> Starlette:
    """`reveal`, if given, post-processes decrypted payloads (e.g. opening sealed fields)."""
    expected = token.encode()
    allowed = {origin.rstrip("/") for origin in allowed_origins}

    def cors_headers(request: Request) -> dict[str, str]:
        """CORS answer headers for an allowed Origin; 403 for any other (a page elsewhere
        must not use a token it got hold of)."""
        origin = request.headers.get("origin")
        if origin is None:  # not a browser: the CLI, curl
            return {}
        if origin.rstrip("/") not in allowed:
            raise CodecProblem(
                403,
                "origin-not-allowed",
                f"origin {origin!r} may not call this codec server; allowed: "
                f"{sorted(allowed)} (COBRO_CODEC_CORS_ORIGINS)",
            )
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    def authenticate(request: Request) -> None:
        presented = request.path_params.get("token")
        if presented is None:
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not credentials.strip():
                raise CodecProblem(
                    401,
                    "codec-token-missing",
                    "send `Authorization: Bearer <COBRO_CODEC_TOKEN>` (CLI: --codec-auth), or "
                    "use the endpoint /token/<COBRO_CODEC_TOKEN>",
                    **{"WWW-Authenticate": 'Bearer realm="cobro-codec"'},
                )
            presented = credentials.strip()
        if not hmac.compare_digest(presented.encode(), expected):
            raise CodecProblem(
                401,
                "codec-token-invalid",
                "the codec token is wrong",
                **{"WWW-Authenticate": 'Bearer realm="cobro-codec", error="invalid_token"'},
            )

    async def read_payloads(request: Request) -> Payloads:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise CodecProblem(413, "too-large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise CodecProblem(413, "too-large", f"the body exceeds {MAX_BODY_BYTES} bytes")
        try:
            return json_format.Parse(bytes(body), Payloads())
        except (json_format.ParseError, UnicodeDecodeError) as exc:
            raise CodecProblem(
                400,
                "invalid-payloads",
                'the body must be {"payloads": [...]}, the protobuf JSON of Payloads: '
                f"{str(exc)[:200]}",
            ) from None

    def endpoint(
        convert: Callable[[Payloads], Awaitable[list[Payload]]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            try:
                headers = cors_headers(request)
            except CodecProblem as exc:
                return _problem(exc)
            if request.method == "OPTIONS":  # a CORS preflight: browsers send no token with it
                preflight = {
                    "Access-Control-Allow-Methods": "POST",
                    "Access-Control-Allow-Headers": ALLOWED_HEADERS,
                    "Access-Control-Max-Age": "600",
                }
                return Response(status_code=204, headers={**headers, **preflight})
            try:
                authenticate(request)
                result = Payloads(payloads=await convert(await read_payloads(request)))
            except CodecProblem as exc:
                return _problem(exc, headers)
            body = json_format.MessageToJson(result)
            return Response(body, media_type="application/json", headers=headers)

        return handle

    async def encode(payloads: Payloads) -> list[Payload]:
        return await codec.encode(payloads.payloads)

    async def decode(payloads: Payloads) -> list[Payload]:
        try:
            decoded = await codec.decode(payloads.payloads)
        except PayloadDecryptError as exc:
            raise CodecProblem(422, "payload-undecryptable", str(exc)) from None
        return decoded if reveal is None else await reveal(decoded)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", "key_ids": codec.key_ids})

    methods = ["POST", "OPTIONS"]
    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/encode", endpoint(encode), methods=methods),
            Route("/decode", endpoint(decode), methods=methods),
            Route("/token/{token}/encode", endpoint(encode), methods=methods),
            Route("/token/{token}/decode", endpoint(decode), methods=methods),
        ],
        exception_handlers={404: _not_routed, 405: _not_routed},
    )
