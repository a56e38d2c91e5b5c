"""Connecting to Temporal with the converter every cobro process must share."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cobro.settings import Settings


async def connect(settings: Settings, lazy: bool = False) -> Client:
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )
