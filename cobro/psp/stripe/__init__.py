"""Stripe: OXXO vouchers and SPEI bank transfers."""

from typing import TYPE_CHECKING

from cobro.psp.connector import Connector
from cobro.psp.stripe.capability import CAPABILITY
from cobro.psp.stripe.config import StripeSettings

if TYPE_CHECKING:
    from cobro.psp.wiring import Wiring


def _wiring() -> "Wiring":
    from cobro.psp.stripe.wiring import WIRING  # the I/O half, loaded on first use

    return WIRING


CONNECTOR = Connector("stripe", CAPABILITY, StripeSettings, _wiring)
