"""MoonPay's report: its buy transaction list (`GET /v1/transactions`, by creation date; see
client.py for which parameters are unconfirmed). A purchase counts when it completed (cobro's
`succeeded`: the crypto was sent), on the Mexico City day of its `updatedAt` (nothing changes a
completed purchase afterwards; the list has no completion time), keyed by its
`externalTransactionId` (the payment id: cobro's reference for it), for what the customer paid:
`baseCurrencyAmount` plus the fees, in exact centavos.

A failed purchase took no money, or MoonPay returned it itself: no line.
"""

from datetime import date, timedelta
from typing import Any

from cobro.domain.business_day import day_window
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.moonpay.mapping import paid_centavos, parse_time
from cobro.reconciliation.lines import Lines, in_day, totals

# A purchase completes soon after the customer starts it in the widget (a card payment, then
# the crypto sent): one created two days before the day began cannot complete on it.
CREATED_BEFORE = timedelta(days=2)


async def moonpay_lines(client: MoonpayClient, day: date) -> Lines:
    start, end = day_window(day)
    # MoonPay's dates are whole days (read as UTC): a wider range, narrowed below.
    transactions = await client.list_transactions((start - CREATED_BEFORE).date(), end.date())
    return transaction_lines(transactions, day)


def transaction_lines(transactions: list[dict[str, Any]], day: date) -> Lines:
    """Raises ValueError for a completed purchase not paid in whole MXN centavos."""
    entries: list[tuple[str, str, int]] = []
    for transaction in transactions:
        if transaction.get("status") != "completed":
            continue
        if not in_day(parse_time(transaction.get("updatedAt")), day):
            continue
        key = transaction.get("externalTransactionId") or transaction["id"]
        entries.append(("charge", str(key), paid_centavos(transaction)))
    return totals(entries)
