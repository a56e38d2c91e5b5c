"""Connecting to Temporal with the converter every cobro process must share."""

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from cobro.settings import Settings
from cobro.temporal_config import connect_config


async def connect(settings: Settings, lazy: bool = False) -> Client:
    return await Client.connect(
        **connect_config(settings),
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )
