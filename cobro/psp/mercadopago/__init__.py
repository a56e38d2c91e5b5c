"""Mercado Pago (the largest PSP in Latin America): OXXO tickets and SPEI transfers through its
Payments API v1. What was checked against MP's documentation and its official SDK, and what is
assumed, is in README.md next to this file."""

from typing import TYPE_CHECKING

from cobro.psp.connector import Connector
from cobro.psp.mercadopago.capability import CAPABILITY
from cobro.psp.mercadopago.config import MercadopagoSettings

if TYPE_CHECKING:
    from cobro.psp.wiring import Wiring


def _wiring() -> "Wiring":
    from cobro.psp.mercadopago.wiring import WIRING  # the I/O half, loaded on first use

    return WIRING


CONNECTOR = Connector("mercadopago", CAPABILITY, MercadopagoSettings, _wiring)
