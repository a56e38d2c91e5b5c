"""MoonPay's buy transaction list, the report cobro reconciles MoonPay against.

Mirrors "List Buy transactions" (`GET /v1/transactions`, dev.moonpay.com/api-reference/widget/
getbuytransactions): an array of buy transactions, newest first. Its date and paging
parameters are not confirmed (cobro/psp/moonpay/client.py): the simulator takes `startDate` /
`endDate` (ISO dates, on `createdAt`, read as UTC days), `limit` (at most 50) and `offset`.
"""

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from cobro.psp.moonpay import mapping
from simulator.report_changes import Line, Lines
from simulator.state import SimState, now_utc

DEFAULT_LIMIT, MAX_LIMIT = 50, 50


def _iso_now() -> str:
    return now_utc().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _set_amount(line: Line, centavos: int) -> None:
    """What the customer paid becomes `centavos`: the fees stay, the fiat exchanged changes."""
    fees = sum(Decimal(str(line.get(f) or 0)) for f in mapping.FEE_FIELDS)
    line["baseCurrencyAmount"] = float(Decimal(centavos) / 100 - fees)


def _forge(state: SimState, reference: str, centavos: int) -> Line:
    now = _iso_now()
    return {
        "id": str(uuid.uuid4()),
        "createdAt": now,
        "updatedAt": now,
        "baseCurrencyAmount": float(Decimal(centavos) / 100),
        "feeAmount": 0,
        "extraFeeAmount": 0,
        "networkFeeAmount": 0,
        "status": "completed",
        "baseCurrency": {"code": "mxn"},
        "currency": {"code": "usdc"},
        "externalTransactionId": reference,
    }


# cobro refunds nothing at MoonPay (MoonPay returns a failed delivery's fiat itself): charges
# only, each under its `externalTransactionId` (cobro's reference: the payment id).
LINES: dict[str, Lines] = {
    "charge": Lines(
        read=lambda state: [c.object for c in state.ledger.charges.values() if c.psp == "moonpay"],
        reference=lambda line: str(line.get("externalTransactionId")),
        set_amount=_set_amount,
        forge=_forge,
    )
}


def listed(
    transactions: list[Line], start: date | None, end: date | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    """One page of transactions created in [start, end] (UTC days), newest first."""
    chosen = [
        t
        for t in transactions
        if (start is None or mapping.parse_time(t["createdAt"]).date() >= start)
        and (end is None or mapping.parse_time(t["createdAt"]).date() <= end)
    ]
    chosen.sort(key=lambda t: (mapping.parse_time(t["createdAt"]), t["id"]), reverse=True)
    limit = max(1, min(limit, MAX_LIMIT))
    return chosen[max(offset, 0) :][:limit]
