"""What one PSP connector is (a folder cobro/psp/<name>/, registered once in
cobro/psp/connectors.py).

This module and each connector's `capability.py`, `config.py` and `__init__.py` are pure: the
domain (routing, refund and ops checks) reads capabilities through them inside the workflow
sandbox. Everything that does I/O (client, adapter, webhook verification, report reader) is in
the connector's `wiring.py`, loaded only when `Connector.wiring()` is called.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cobro.domain.methods import PaymentMethod
from cobro.psp.settings_section import PspSection

if TYPE_CHECKING:
    from cobro.domain.payment import Customer
    from cobro.psp.wiring import Wiring


@dataclass(frozen=True)
class Capability:
    """What the PSP can do, as the domain asks it."""

    # Methods the PSP takes, with its amount limits (centavos, inclusive).
    limits: Mapping[PaymentMethod, tuple[int, int]]
    # Methods whose payments cobro can refund through the PSP.
    refundable: frozenset[PaymentMethod] = frozenset()
    # Ops may attach a deposit that matched no payment to a payment at this PSP (SPEI at STP:
    # a transfer to a mistyped CLABE).
    accepts_deposit_claims: bool = False
    # Late and excess money goes back from the payment's own reference, so the PSP's report
    # shows those refunds with the payment's reference (reconciliation counts them).
    late_refunds_on_reference: bool = False
    # Customer fields (of cobro.domain.payment.Customer) the PSP refuses an order without:
    # routing never sends it a payment that lacks one (Conekta's customer_info requires email
    # and phone).
    needs_customer: frozenset[str] = frozenset()

    def refuses_customer(self, psp: str, customer: "Customer") -> str | None:
        """Why this PSP cannot take a payment of this customer (the fields it needs that the
        customer lacks, e.g. "conekta needs customer.phone"), or None."""
        missing = [f for f in sorted(self.needs_customer) if getattr(customer, f) is None]
        return f"{psp} needs {', '.join(f'customer.{f}' for f in missing)}" if missing else None


@dataclass(frozen=True)
class Connector:
    name: str  # as in COBRO_PSPS, payments' `psp`, /webhooks/{name} and metrics labels
    capability: Capability
    # Its settings: a PspSection subclass with its env vars (fields), simulator defaults,
    # live-required vars and base URLs; cobro.settings.Settings inherits every one.
    settings: type[PspSection]
    # The I/O half (cobro/psp/<name>/wiring.py), imported on first call.
    wiring: Callable[[], "Wiring"]
