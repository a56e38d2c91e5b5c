"""The one Temporal data converter every cobro client, worker and replayer uses: pydantic for
values, EncryptionCodec for the bytes, and failure messages and stack traces moved into an
encrypted payload (a PSP's error text may quote a customer's email)."""

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from cobro.payload_codec import EncryptionCodec
from cobro.payload_keys import KeyRing, key_ring
from cobro.settings import Settings


def converter_for(ring: KeyRing) -> DataConverter:
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(ring),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


def payload_key_ring(settings: Settings) -> KeyRing:
    """COBRO_PAYLOAD_KEYS, or outside live mode the dev keys in COBRO_DATA_DIR."""
    return key_ring(
        settings.cobro_payload_keys.get_secret_value(),
        settings.cobro_data_dir,
        live=settings.cobro_psp_mode == "live",
    )


def data_converter(settings: Settings) -> DataConverter:
    return converter_for(payload_key_ring(settings))
