"""Every PSP connector cobro has, registered once. Order matters: a method's default route is
the connectors that take it, in this order.

Adding a PSP: its folder cobro/psp/<name>/ (capability.py, config.py, wiring.py, __init__.py
with CONNECTOR; see cobro/psp/connector.py), its simulator, its tests, and one line here.

Pure (no I/O imports): the domain reads capabilities from here inside the workflow sandbox.
"""

from cobro.psp import conekta, mercadopago, moonpay, stp, stripe
from cobro.psp.connector import Capability, Connector

CONNECTORS: tuple[Connector, ...] = (
    stripe.CONNECTOR,
    conekta.CONNECTOR,
    stp.CONNECTOR,
    moonpay.CONNECTOR,
    mercadopago.CONNECTOR,
)

BY_NAME: dict[str, Connector] = {c.name: c for c in CONNECTORS}
CAPABILITIES: dict[str, Capability] = {c.name: c.capability for c in CONNECTORS}
