"""The I/O half of a connector (cobro/psp/<name>/wiring.py): how to build its adapter and
report reader from settings, and the optional parts only some PSPs have. Factories take the
process's Settings (which inherits the connector's own section)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

import httpx

from cobro.psp.adapter import PspAdapter
from cobro.psp.inbound import Confirmer, WebhookVerifier
from cobro.reconciliation.lines import ReportReader


@dataclass(frozen=True)
class ClaimedDeposit:
    amount: int  # centavos
    reference: str  # the PSP's id of the transfer (STP: claveRastreo)


class DepositRefused(Exception):
    """The stored event cannot be attached (not a deposit, or the PSP denies it)."""


class DepositClaimer(Protocol):
    """For PSPs that accept deposit claims: the PSP's own confirmation of a deposit that
    matched no payment, before ops attach it to one."""

    async def confirm(self, event_type: str, raw_body: bytes) -> ClaimedDeposit: ...


@dataclass(frozen=True)
class Wiring:
    adapter: Callable[[Any, httpx.AsyncClient], PspAdapter]
    report_reader: Callable[[Any, httpx.AsyncClient], ReportReader]
    # Signed webhooks at POST /webhooks/{name}: the verifier for a process's settings.
    webhook_verifier: Callable[[Any], WebhookVerifier] | None = None
    # Unsigned notifications that count only once the PSP's own query confirms them.
    confirmer: Callable[[Any, httpx.AsyncClient], Confirmer] | None = None
    # With Capability.accepts_deposit_claims: confirms a kept deposit before ops attach it.
    deposit_claimer: Callable[[Any, httpx.AsyncClient], DepositClaimer] | None = None
    # What an unconfirmed stored notification says it carries (centavos; None when it carries
    # no amount, such as STP's cambioEstado), for ops listings.
    notified_amount: Callable[[bytes], int | None] | None = None
    # [start, end) in UTC of the day the PSP's report files money under, when that is not the
    # Mexico City calendar day (STP's operating day): cobro's side is taken over the same window.
    report_day: Callable[[date], tuple[datetime, datetime]] | None = None
