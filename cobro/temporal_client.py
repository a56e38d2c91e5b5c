"""Connecting to Temporal with the converter every cobro process must share."""

from temporalio.client import Client
from temporalio.runtime import Runtime

from cobro.data_converter import data_converter
from cobro.settings import Settings
from cobro.telemetry import default_runtime, temporal_interceptors
from cobro.temporal_config import connect_config


async def connect(settings: Settings, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """`runtime`: the worker's, which serves metrics; others forward core logs only. Traces
    are carried in Temporal headers when this process exports them (cobro/telemetry.py)."""
    return await Client.connect(
        **connect_config(settings),
        data_converter=data_converter(settings),
        lazy=lazy,
        runtime=runtime or default_runtime(),
        interceptors=temporal_interceptors(),
    )
