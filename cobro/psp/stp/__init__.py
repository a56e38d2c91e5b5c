"""STP: direct SPEI (a CLABE per payment; refunds are outbound transfers)."""

from typing import TYPE_CHECKING

from cobro.psp.connector import Connector
from cobro.psp.stp.capability import CAPABILITY
from cobro.psp.stp.config import StpSettings

if TYPE_CHECKING:
    from cobro.psp.wiring import Wiring


def _wiring() -> "Wiring":
    from cobro.psp.stp.wiring import WIRING  # the I/O half, loaded on first use

    return WIRING


CONNECTOR = Connector("stp", CAPABILITY, StpSettings, _wiring)
