"""Stripe's report: its balance transactions created during the day (`GET
/v1/balance_transactions` with `created[gte]`/`created[lt]` and `expand[]=data.source`), read
by `reporting_category` (`charge`, `refund`, `refund_failure`: what Stripe recommends for
accounting, docs.stripe.com/reports/balance-transaction-types; the `type` of an OXXO or bank
transfer payment is `payment`, not `charge`), keyed by the PaymentIntent the source (a Charge or
a Refund) names: cobro's reference; amounts in centavos. A refund that fails or is canceled
gives its money back in a `refund_failure` transaction, counted on the refund line, so a failed
refund nets to nothing as it does in cobro's books."""

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


def _intent(source: Any) -> str:
    """The PaymentIntent an expanded source names (a Charge's or a Refund's
    `payment_intent`); a source without one (a cash balance refund) keeps its own id."""
    if isinstance(source, dict):
        return str(source.get("payment_intent") or source["id"])
    return str(source)


def balance_lines(txns: list[dict[str, Any]]) -> Lines:
    # Other categories (payouts, fees, adjustments) move no customer's money for a payment.
    return totals(
        (LINE_OF[t["reporting_category"]], _intent(t["source"]), int(t["amount"]))
        for t in txns
        if t.get("reporting_category") in LINE_OF
    )
