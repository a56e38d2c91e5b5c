"""Where and how cobro reaches Temporal: the Temporal CLI's own configuration.

`temporalio.envconfig` reads what the `temporal` CLI reads, in the same order (environment over
the TOML config file's profile): `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`,
`TEMPORAL_TLS` and `TEMPORAL_TLS_*`, `TEMPORAL_GRPC_META_*`, and the profile `TEMPORAL_PROFILE`
names in the file `TEMPORAL_CONFIG_FILE` names (default `~/.config/temporalio/temporal.toml`).
An API key turns TLS on; so does any TLS setting; an empty variable counts as unset. Nothing
set: the dev server that `cobro dev` starts on 127.0.0.1:$TEMPORAL_PORT, namespace `default`.

`Settings.temporal_address` / `temporal_namespace` read the same two variables; given to
`Settings(...)` explicitly (the tests do), they win, as a CLI flag wins over the environment.
"""

import asyncio
import logging
import os
import sys
from collections.abc import Mapping
from datetime import timedelta
from typing import NoReturn

from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client
from temporalio.envconfig import ClientConfigProfile, ClientConnectConfig
from temporalio.service import RPCError, TLSConfig

from cobro.settings import Settings

DEFAULT_NAMESPACE = "default"
# What envconfig reads (besides TEMPORAL_GRPC_META_<HEADER>), as the Temporal CLI names them.
ENV_VARIABLES = (
    "TEMPORAL_ADDRESS",
    "TEMPORAL_NAMESPACE",
    "TEMPORAL_API_KEY",
    "TEMPORAL_TLS",
    "TEMPORAL_TLS_CLIENT_CERT_PATH",
    "TEMPORAL_TLS_CLIENT_CERT_DATA",
    "TEMPORAL_TLS_CLIENT_KEY_PATH",
    "TEMPORAL_TLS_CLIENT_KEY_DATA",
    "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
    "TEMPORAL_TLS_SERVER_CA_CERT_DATA",
    "TEMPORAL_TLS_SERVER_NAME",
    "TEMPORAL_TLS_DISABLE_HOST_VERIFICATION",
    "TEMPORAL_PROFILE",
    "TEMPORAL_CONFIG_FILE",
)
log = logging.getLogger("cobro.temporal")
HOW_TO = "README.md: Production, What to set"


class TemporalConfigError(ValueError):
    """The Temporal connection settings cannot be read (a missing certificate file, an unknown
    profile, a config file that is not TOML)."""


def _profile(env: Mapping[str, str] | None) -> ClientConnectConfig:
    # An empty variable counts as unset, as the Temporal CLI takes TEMPORAL_API_KEY= and
    # TEMPORAL_TLS= (the SDK would turn TLS on): `${TEMPORAL_API_KEY:-}` in a compose file.
    source = {name: value for name, value in (os.environ if env is None else env).items() if value}
    try:
        return ClientConfigProfile.load(override_env_vars=source).to_client_connect_config()
    except (OSError, RuntimeError, ValueError) as exc:  # the bridge's ConfigError is a RuntimeError
        raise TemporalConfigError(
            f"cannot read the Temporal connection settings: {exc}. Check TEMPORAL_PROFILE, "
            f"TEMPORAL_CONFIG_FILE and the TEMPORAL_TLS_*_PATH files ({HOW_TO})"
        ) from exc


def connect_config(settings: Settings, env: Mapping[str, str] | None = None) -> ClientConnectConfig:
    """`Client.connect` keyword arguments (target_host, namespace, api_key, tls, rpc_metadata)
    from `env` (default: this process's environment) and its config file."""
    config = _profile(env)
    config["target_host"] = (
        settings.temporal_address or config.get("target_host") or settings.temporal_target
    )
    config["namespace"] = (
        settings.temporal_namespace or config.get("namespace") or DEFAULT_NAMESPACE
    )
    return config


def is_configured(settings: Settings, env: Mapping[str, str] | None = None) -> bool:
    """Whether a Temporal address is set (environment, profile or Settings); `cobro dev` starts
    its own dev server only when none is."""
    return bool(settings.temporal_address or _profile(env).get("target_host"))


def describe(config: ClientConnectConfig) -> str:
    """One line for logs and errors: where, which namespace, what credentials (never a secret)."""
    tls = config.get("tls", False)
    if isinstance(tls, TLSConfig):
        ca = "its own CA" if tls.server_root_ca_cert else "the system's CAs"
        cert = "a client certificate" if tls.client_cert else "no client certificate"
        how = f"TLS (server checked against {ca}, {cert})"
    else:
        how = "TLS with the system's CAs" if tls else "plaintext (no TLS)"
    key = ", API key" if config.get("api_key") else ""
    return f"{config.get('target_host')} namespace {config.get('namespace')!r}, {how}{key}"


# A proxy answers HTTP 400 (nginx), a Temporal server ends the TLS handshake with an alert.
CERTIFICATE_REFUSED = ("400 Bad Request", "alert", "Certificate", "certificate", "UNAUTHENTICATED")
UNREACHABLE = ("tcp connect error", "Connection refused", "dns error", "timed out", "Unavailable")


def is_unreachable(exc: BaseException) -> bool:
    """Nothing answered (Temporal down or still starting), as opposed to a server that answered
    and refused us (TLS, certificate, API key, namespace)."""
    return isinstance(exc, TimeoutError) or any(s in str(exc) for s in UNREACHABLE)


def _hint(config: ClientConnectConfig, error: str) -> str:
    tls = config.get("tls", False)
    client_cert = isinstance(tls, TLSConfig) and tls.client_cert is not None
    if any(s in error for s in UNREACHABLE):
        return (
            "nothing answers there: is Temporal running, and is TEMPORAL_ADDRESS (host:port) right?"
        )
    if not tls and ("h2 protocol error" in error or "GoAway" in error or "FRAME_SIZE" in error):
        return (
            "the server speaks TLS: set TEMPORAL_TLS=true, and TEMPORAL_TLS_SERVER_CA_CERT_PATH "
            "when its certificate is from a private CA"
        )
    if tls and "InvalidContentType" in error:
        return "the server does not speak TLS: unset TEMPORAL_TLS and the TEMPORAL_TLS_* variables"
    if "UnknownIssuer" in error or "InvalidCertificate" in error:
        return (
            "the server's certificate is not trusted: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to "
            "the CA that signed it (and TEMPORAL_TLS_SERVER_NAME if it names another host)"
        )
    if "NOT_FOUND" in error and "amespace" in error:
        return (
            f"there is no namespace {config.get('namespace')!r} there: set TEMPORAL_NAMESPACE "
            "(on Temporal Cloud: <namespace>.<account id>)"
        )
    if not client_cert and not config.get("api_key"):
        return (
            "the server refused a client without credentials: for mTLS set "
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (or their _DATA "
            "forms); for an API-key namespace (Temporal Cloud) set TEMPORAL_API_KEY"
        )
    if client_cert and any(s in error for s in CERTIFICATE_REFUSED):
        return (
            "the server refused this client certificate: TEMPORAL_TLS_CLIENT_CERT_PATH must "
            "hold a certificate signed by a CA the server (or namespace) accepts, and "
            "TEMPORAL_TLS_CLIENT_KEY_PATH its private key"
        )
    return (
        "check TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the credentials "
        "(TEMPORAL_TLS_CLIENT_CERT_PATH/TEMPORAL_TLS_CLIENT_KEY_PATH, or TEMPORAL_API_KEY)"
    )


def explain(config: ClientConnectConfig, exc: BaseException) -> str:
    """A start-up error that says what failed and what to set."""
    error = str(exc) or type(exc).__name__
    if isinstance(exc, RPCError):
        error = f"{exc.status.name}: {error}"
    return (
        f"cannot connect to Temporal at {describe(config)}: {_hint(config, error)} ({HOW_TO}). "
        f"The error was: {error}"
    )


# Long enough for a Temporal that is busy; a dev server still starting refuses at once.
PROBE_TIMEOUT_S = 15.0


def start_up_problem(settings: Settings, tolerate_unreachable: bool) -> str | None:
    """Connect once before a process starts serving: what is wrong, or None. A server that
    answers and refuses (TLS, certificate, API key, namespace) is always a problem; one that
    does not answer is tolerated when `tolerate_unreachable` (the API starts and reports it on
    /healthz, and connects once Temporal is up)."""
    try:
        config = connect_config(settings)
    except TemporalConfigError as exc:
        return str(exc)

    async def probe() -> None:
        client = await asyncio.wait_for(Client.connect(**config), PROBE_TIMEOUT_S)
        # What a worker checks when it starts: the namespace exists and we may use it.
        await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=client.namespace), timeout=timedelta(seconds=10)
        )

    try:
        asyncio.run(probe())
    except (RuntimeError, TimeoutError, RPCError) as exc:
        if tolerate_unreachable and is_unreachable(exc):
            log.warning("%s; starting anyway", explain(config, exc))
            return None
        return explain(config, exc)
    log.info("Temporal: %s", describe(config))
    return None


def stop_if_refused(role: str, settings: Settings, tolerate_unreachable: bool) -> None:
    """Stop `cobro ROLE` at start-up, with what to set, when Temporal refuses it."""
    problem = start_up_problem(settings, tolerate_unreachable)
    if problem is not None:
        exit_process(1, f"cobro {role}: {problem}")


def exit_process(code: int, message: str | None = None) -> NoReturn:
    """End a process that has used a Temporal client, without the interpreter's shutdown: the
    client's native runtime can abort it there ("PyGILState_Release" fatal error, exit 134
    whatever happened before). `message` goes to stderr first, as sys.exit would print it."""
    if message is not None:
        print(message, file=sys.stderr)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
