"""Connecting to Temporal with the converter every cobro process must share."""

from temporalio.client import Client

from cobro.data_converter import data_converter
from cobro.settings import Settings


async def connect(settings: Settings, lazy: bool = False) -> Client:
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        lazy=lazy,
    )
