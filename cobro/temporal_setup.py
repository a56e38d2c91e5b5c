"""`cobro temporal-setup`: what a self-hosted Temporal needs before cobro's workers and APIs start,
the way `cobro migrate` is for PostgreSQL: the namespace (created with 30-day retention, so ops
still see closed payments a month later) and cobro's search attributes. Idempotent: it does only
what is missing. `cobro dev` runs the same on every start.

Temporal Cloud namespaces are created, and their search attributes added, with `tcld` or the
Cloud UI instead (README.md, Production).
"""

import asyncio
import logging
from datetime import timedelta
from typing import NoReturn

from google.protobuf.duration_pb2 import Duration
from temporalio.api.namespace.v1 import NamespaceConfig
from temporalio.api.workflowservice.v1 import (
    DescribeNamespaceRequest,
    RegisterNamespaceRequest,
    UpdateNamespaceRequest,
)
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from cobro import search_attributes
from cobro.settings import Settings
from cobro.temporal_client import connect
from cobro.temporal_config import (
    TemporalConfigError,
    connect_config,
    exit_process,
    explain,
    is_unreachable,
)

log = logging.getLogger("cobro.temporal_setup")
RETENTION = timedelta(days=30)
# How long `cobro temporal-setup` waits for a Temporal server that is still starting.
SERVER_WAIT_S = 120.0
# A namespace just registered is known to every frontend within the namespace cache's refresh.
NEW_NAMESPACE_WAIT_S = 60.0


def _duration(value: timedelta) -> Duration:
    duration = Duration()
    duration.FromTimedelta(value)
    return duration


async def _ensure_namespace(client: Client, retention: timedelta) -> str:
    namespace = client.namespace
    try:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace)
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        await client.workflow_service.register_namespace(
            RegisterNamespaceRequest(
                namespace=namespace,
                description="cobro payments",
                workflow_execution_retention_period=_duration(retention),
            )
        )
        return f"created namespace {namespace!r} with {retention.days}-day retention"
    if described.config.workflow_execution_retention_ttl.ToTimedelta() == retention:
        return f"namespace {namespace!r} exists with {retention.days}-day retention"
    await client.workflow_service.update_namespace(
        UpdateNamespaceRequest(
            namespace=namespace,
            config=NamespaceConfig(workflow_execution_retention_ttl=_duration(retention)),
        )
    )
    return f"namespace {namespace!r}: retention set to {retention.days} days"


async def _register_search_attributes(client: Client) -> str:
    deadline = asyncio.get_running_loop().time() + NEW_NAMESPACE_WAIT_S
    while True:
        try:
            await search_attributes.register(client, client.namespace)
        except RPCError as exc:
            new_namespace_not_seen_yet = exc.status == RPCStatusCode.NOT_FOUND
            if not new_namespace_not_seen_yet or asyncio.get_running_loop().time() > deadline:
                raise
            await asyncio.sleep(1)
            continue
        names = ", ".join(search_attributes.SEARCH_ATTRIBUTE_TYPES)
        return f"search attributes registered: {names}"


async def setup(client: Client, retention: timedelta = RETENTION) -> list[str]:
    """Create or fix what is missing in `client`'s namespace; what it found or did, line by line."""
    return [
        await _ensure_namespace(client, retention),
        await _register_search_attributes(client),
    ]


async def setup_once_reachable(settings: Settings) -> list[str]:
    """`setup`, once the server answers (a deployment starts it just before)."""
    deadline = asyncio.get_running_loop().time() + SERVER_WAIT_S
    while True:
        try:
            return await setup(await connect(settings))
        except (RuntimeError, RPCError) as exc:
            if not is_unreachable(exc) or asyncio.get_running_loop().time() > deadline:
                raise
            log.info("Temporal is not answering yet (%s); trying again", exc)
            await asyncio.sleep(2)


def command(settings: Settings) -> NoReturn:
    """`cobro temporal-setup`: what it found or did, one line each; exit 1 saying why not."""
    try:
        done = asyncio.run(setup_once_reachable(settings))
    except TemporalConfigError as exc:
        exit_process(1, f"cobro temporal-setup: {exc}")
    except (RuntimeError, RPCError) as exc:
        exit_process(1, f"cobro temporal-setup: {explain(connect_config(settings), exc)}")
    for line in done:
        print(f"temporal-setup: {line}")
    exit_process(0)
