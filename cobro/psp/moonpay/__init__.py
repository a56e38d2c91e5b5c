"""MoonPay: crypto on-ramp."""

from typing import TYPE_CHECKING

from cobro.psp.connector import Connector
from cobro.psp.moonpay.capability import CAPABILITY
from cobro.psp.moonpay.config import MoonpaySettings

if TYPE_CHECKING:
    from cobro.psp.wiring import Wiring


def _wiring() -> "Wiring":
    from cobro.psp.moonpay.wiring import WIRING  # the I/O half, loaded on first use

    return WIRING


CONNECTOR = Connector("moonpay", CAPABILITY, MoonpaySettings, _wiring)
