"""Stripe's report: its balance transactions created during the day (`GET
/v1/balance_transactions` with `created[gte]`/`created[lt]`), type `charge` or `refund`, keyed
by `source` (the PaymentIntent in the simulator, cobro's reference); amounts in centavos. A refund
that fails or is canceled gives its money back in a `refund_failure` transaction, counted on the
refund line, so a failed refund nets to nothing as it does in cobro's books."""

from datetime import date
from typing import Any

from cobro.domain.business_day import day_window
from cobro.psp.stripe.client import StripeClient
from cobro.reconciliation.lines import Lines, totals


async def stripe_lines(client: StripeClient, day: date) -> Lines:
    start, end = day_window(day)
    txns = await client.list_balance_transactions(int(start.timestamp()), int(end.timestamp()))
    return balance_lines(txns)


LINE_OF = {"charge": "charge", "refund": "refund", "refund_failure": "refund"}


def balance_lines(txns: list[dict[str, Any]]) -> Lines:
    # Other types (payouts, fees, adjustments) move no customer's money for a payment.
    return totals(
        (LINE_OF[t["type"]], str(t["source"]), int(t["amount"]))
        for t in txns
        if t["type"] in LINE_OF
    )
