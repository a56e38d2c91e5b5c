"""Conekta's charge list, the report cobro reconciles Conekta against (`GET /conekta/charges`).

Mirrors Conekta's "Get A List of Charges" (`GET https://api.conekta.io/charges`, API v2.2;
the conekta-python SDK's ChargesApi.get_charges): `{"object": "list", "has_more",
"next_page_url", "previous_page_url", "data": [charge, ...]}`, newest first, `limit` up to 250
(default 20) and `next` (the id of the last charge seen) to page. Each charge carries its
`order_id`, `amount` in centavos, `status`, `created_at` and `paid_at` (Unix seconds) and its
`refunds` list. Conekta documents no date filter for this list: the reader pages back in time.
"""

import secrets
import time
from typing import Any

from simulator.ledger import Charge
from simulator.report_changes import Line, Lines
from simulator.state import SimState

DEFAULT_LIMIT, MAX_LIMIT = 20, 250


def charge_view(charge: Charge) -> Line:
    """The order's charge as Conekta lists it."""
    order = charge.object
    view: Line = dict(order["charges"]["data"][0])
    view.setdefault("created_at", order.get("created_at"))
    view.setdefault("paid_at", None)
    view.setdefault("refunds", {"object": "list", "has_more": False, "data": []})
    view |= {"livemode": False, "order_id": order["id"], "amount": charge.amount}
    return view


def _set_amount(line: Line, centavos: int) -> None:
    line["amount"] = centavos


def _forge(state: SimState, order_id: str, centavos: int) -> Line:
    now = int(time.time())
    return {
        "id": secrets.token_hex(12),
        "object": "charge",
        "livemode": False,
        "order_id": order_id,
        "amount": centavos,
        "currency": "MXN",
        "status": "paid",
        "created_at": now,
        "paid_at": now,
        "payment_method": {"object": "cash_payment", "type": "oxxo"},
        "refunds": {"object": "list", "has_more": False, "data": []},
    }


# The simulated Conekta refunds nothing (cash and SPEI orders), so only charges can be changed.
LINES: dict[str, Lines] = {
    "charge": Lines(
        read=lambda state: [
            charge_view(c) for c in state.ledger.charges.values() if c.psp == "conekta"
        ],
        reference=lambda line: str(line.get("order_id")),
        set_amount=_set_amount,
        forge=_forge,
    )
}


def page(charges: list[Line], limit: int, after: str | None, base_url: str) -> dict[str, Any]:
    """One page of the list, newest first, starting after the charge `after`."""
    ordered = sorted(charges, key=lambda c: (int(c.get("created_at") or 0), c["id"]), reverse=True)
    if after is not None:
        ids = [c["id"] for c in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    limit = max(1, min(limit, MAX_LIMIT))
    data, has_more = ordered[:limit], len(ordered) > limit
    return {
        "object": "list",
        "has_more": has_more,
        "next_page_url": f"{base_url}?limit={limit}&next={data[-1]['id']}" if has_more else None,
        "previous_page_url": None,
        "data": data,
    }
