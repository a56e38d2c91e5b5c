"""Conekta's report: its charge list (`GET /charges`, API v2.2), amounts in centavos. A charge
counts on the Mexico City day it was paid (`paid_at`), a refund on the day it was made; both
are keyed by the charge's `order_id`, the order cobro keeps as the payment's reference.

Conekta's list has no date filter and comes newest first, so the client walks it back to the
oldest charge that could have been paid on the day (MAX_CHARGE_AGE). A refund made through
Conekta's dashboard later than that is not seen; cobro itself refunds nothing at Conekta.
"""

from datetime import date, timedelta
from typing import Any

from cobro.domain.business_day import day_window
from cobro.domain.methods import LIMITS
from cobro.psp.conekta.client import ConektaClient
from cobro.reconciliation.lines import Lines, from_unix, in_day, totals

# A charge is paid before it expires (Conekta returns later money), and cobro's charges expire
# within their method's longest expiry (30 days for SPEI, 7 for OXXO); plus a day of margin.
MAX_CHARGE_AGE = timedelta(seconds=max(m.max_expires_in_s for m in LIMITS.values()) + 86_400)


async def conekta_lines(client: ConektaClient, day: date) -> Lines:
    start, _ = day_window(day)
    charges = await client.list_charges(int((start - MAX_CHARGE_AGE).timestamp()))
    return charge_lines(charges, day)


def charge_lines(charges: list[dict[str, Any]], day: date) -> Lines:
    entries: list[tuple[str, str, int]] = []
    for charge in charges:
        order_id = str(charge["order_id"])
        paid_at = charge.get("paid_at")
        if paid_at is not None and in_day(from_unix(paid_at), day):
            entries.append(("charge", order_id, int(charge["amount"])))
        for refund in (charge.get("refunds") or {}).get("data") or []:
            if in_day(from_unix(refund["created_at"]), day):
                # The sign Conekta gives a refund's amount is not confirmed: what left counts.
                entries.append(("refund", order_id, -abs(int(refund["amount"]))))
    return totals(entries)
