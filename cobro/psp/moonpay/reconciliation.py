"""MoonPay's report: its transaction list (`GET /platform/v1/transactions`, by creation date).
A purchase counts when it completed (cobro's `succeeded`: the crypto was delivered), on the
Mexico City day of its `updatedAt` (nothing changes a completed purchase afterwards; the list
has no completion time), keyed by the transaction id cobro keeps, for `source.amount`: the
MXN the customer paid, fees included, a decimal string turned into exact centavos.

A failed purchase took no money, or MoonPay refunded it itself (a failed delivery): no line.
"""

from datetime import date, timedelta
from typing import Any

from cobro.domain.business_day import day_window
from cobro.psp.moonpay.client import MoonpayClient
from cobro.psp.moonpay.mapping import amount_to_centavos, parse_time
from cobro.reconciliation.lines import Lines, in_day, totals

# A purchase completes within its quote's life (cobro's crypto payments live at most a day)
# plus delivery: one created two days before the day began cannot complete on it.
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
        source = transaction.get("source") or {}
        currency = str((source.get("asset") or {}).get("code", "")).upper()
        if currency != "MXN":
            raise ValueError(f"moonpay transaction {transaction.get('id')} was paid in {currency}")
        entries.append(("charge", str(transaction["id"]), amount_to_centavos(source.get("amount"))))
    return totals(entries)
