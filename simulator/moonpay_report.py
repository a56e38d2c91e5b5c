"""MoonPay's transaction list, the report cobro reconciles MoonPay against.

Mirrors the Platform API's "List transactions" (`GET /platform/v1/transactions`,
dev.moonpay.com): `startDate` / `endDate` (ISO 8601 dates: created on or after / on or before),
`cursor` and `limit`; answers `{"data": [Transaction, ...], "pageInfo": {"nextCursor"}}`, the
cursor null on the last page. Each transaction carries `source.amount` (the fiat the customer
paid, a decimal string), `status`, `createdAt` and `updatedAt`.

Simplifications: MoonPay lists the transactions of the connected customer; the simulator lists
the whole account's, newest first (a partner's view of its sales); the dates are read as UTC
days; a page holds at most 100 (MoonPay's maximum is not confirmed).
"""

import secrets
from datetime import date
from typing import Any

from cobro.psp.moonpay import mapping
from simulator.report_changes import Line, Lines
from simulator.state import SimState, now_utc

DEFAULT_LIMIT, MAX_LIMIT = 50, 100


def _iso_now() -> str:
    return now_utc().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _set_amount(line: Line, centavos: int) -> None:
    line["source"] = {**line["source"], "amount": mapping.centavos_to_amount(centavos)}


def _forge(state: SimState, transaction_id: str, centavos: int) -> Line:
    now = _iso_now()
    return {
        "id": transaction_id,
        "createdAt": now,
        "updatedAt": now,
        "status": "completed",
        "source": {"amount": mapping.centavos_to_amount(centavos), "asset": {"code": "MXN"}},
        "destination": {"amount": "0", "asset": {"code": "USDC"}},
        "fees": {},
        "wallet": {"address": "0x0"},
        "customer": {"id": f"cus_{secrets.token_hex(8)}"},
        "externalTransactionId": None,
        "stages": [],
    }


# cobro refunds nothing at MoonPay (MoonPay refunds a failed delivery itself): charges only.
LINES: dict[str, Lines] = {
    "charge": Lines(
        read=lambda state: [c.object for c in state.ledger.charges.values() if c.psp == "moonpay"],
        reference=lambda line: str(line.get("id")),
        set_amount=_set_amount,
        forge=_forge,
    )
}


def listed(
    transactions: list[Line],
    start: date | None,
    end: date | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    """One page of transactions created in [start, end] (UTC days), newest first."""
    chosen = [
        t
        for t in transactions
        if (start is None or mapping.parse_time(t["createdAt"]).date() >= start)
        and (end is None or mapping.parse_time(t["createdAt"]).date() <= end)
    ]
    chosen.sort(key=lambda t: (mapping.parse_time(t["createdAt"]), t["id"]), reverse=True)
    if cursor is not None:
        ids = [t["id"] for t in chosen]
        chosen = chosen[ids.index(cursor) + 1 :] if cursor in ids else []
    limit = max(1, min(limit, MAX_LIMIT))
    data = chosen[:limit]
    more = len(chosen) > limit
    return {"data": data, "pageInfo": {"nextCursor": data[-1]["id"] if more else None}}
