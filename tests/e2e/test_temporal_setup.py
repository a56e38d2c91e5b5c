"""`cobro temporal-setup`, as deploy/docker-compose.yml runs it before the workers and APIs: on a
namespace that does not exist yet it creates it with 30-day retention and registers cobro's
search attributes; run again, it finds everything in place."""

import os
import uuid
from datetime import timedelta

from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from cobro.search_attributes import SEARCH_ATTRIBUTE_TYPES
from cobro.settings import Settings
from cobro.temporal_client import connect
from tests.e2e.helpers import run_cli
from tests.stack import Servers


async def test_temporal_setup_creates_the_namespace_and_search_attributes_once(
    servers: Servers,
) -> None:
    namespace = f"cobro-setup-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": servers.temporal_address,
        "TEMPORAL_NAMESPACE": namespace,
    }
    first = await run_cli(env, "temporal-setup")
    assert first[0] == f"temporal-setup: created namespace {namespace!r} with 30-day retention"
    assert first[1].startswith("temporal-setup: search attributes registered")

    again = await run_cli(env, "temporal-setup")
    assert again[0] == f"temporal-setup: namespace {namespace!r} exists with 30-day retention"

    client = await connect(Settings(temporal_address=servers.temporal_address))
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace=namespace)
    )
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta()
    assert retention == timedelta(days=30)
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    assert set(SEARCH_ATTRIBUTE_TYPES) <= set(listed.custom_attributes)
