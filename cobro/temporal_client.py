"""Connecting to Temporal with the converter every cobro process must share."""

from temporalio.client import Client

from cobro.data_converter import data_converter
from cobro.settings import Settings
from cobro.temporal_config import connect_config


async def connect(settings: Settings, lazy: bool = False) -> Client:
    return await Client.connect(
        **connect_config(settings),
        data_converter=data_converter(settings),
        lazy=lazy,
    )
