"""Conekta: OXXO Pay vouchers and SPEI."""

from typing import TYPE_CHECKING

from cobro.psp.conekta.capability import CAPABILITY
from cobro.psp.conekta.config import ConektaSettings
from cobro.psp.connector import Connector

if TYPE_CHECKING:
    from cobro.psp.wiring import Wiring


def _wiring() -> "Wiring":
    from cobro.psp.conekta.wiring import WIRING  # the I/O half, loaded on first use

    return WIRING


CONNECTOR = Connector("conekta", CAPABILITY, ConektaSettings, _wiring)
