"""STP's report: its conciliation of the operating day (`POST /efws/API/V2/conciliacion` with
`fechaOperacion` YYYYMMDD), received orders ("R", deposits) and sent ones ("E", cobro's refunds).

cobro's reference for an STP payment is the CLABE it issued, not a transfer: a payment can be
paid by several deposits, each with its own `claveRastreo`. So a deposit counts for the CLABE it
went to (`cuentaBeneficiario`), summed per CLABE over the day, and a refund for the CLABE it was
sent from (`cuentaOrdenante`). Only settled orders count (estado TLQ/LQ; "D" went back to the
payer). `monto` is decimal pesos (read as Decimal, never float) and becomes exact centavos.

Money beyond the payment's amount arrives at the same CLABE and STP cannot tell it apart: an
over-payment shows as `amount_mismatch` (and a deposit after expiry as `missing_in_cobro`), next
to the matched refund that returned it under the late-money rule.

The day is STP's operating day (cobro/psp/stp/operating_day.py): it closes at 18:00 Mexico City
time and only business days have one, so an evening or weekend deposit is in the next business
day's report. Only orders filed under the day asked for count (STP's current day may list
more); cobro's side of STP is taken over the same window (wiring.py: `report_day`).
"""

from datetime import date
from typing import Any

from cobro.psp.stp.client import StpClient
from cobro.psp.stp.mapping import SETTLED, monto_to_centavos
from cobro.reconciliation.lines import Lines, totals


def fecha_operacion(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


async def stp_lines(client: StpClient, day: date) -> Lines:
    received = await client.conciliacion("R", fecha_operacion(day))
    sent = await client.conciliacion("E", fecha_operacion(day))
    return order_lines(received, sent, fecha_operacion(day))


def _counts(order: dict[str, Any], fecha: int | None) -> bool:
    filed = order.get("fechaOperacion")
    same_day = fecha is None or filed in (None, "") or str(filed) == str(fecha)
    return same_day and order.get("estado") in SETTLED


def order_lines(
    received: list[dict[str, Any]], sent: list[dict[str, Any]], fecha: int | None = None
) -> Lines:
    """The settled orders filed under operating day `fecha` (all of them when None). Raises
    ValueError for a `monto` that is not whole centavos."""
    deposits = [
        ("charge", str(o["cuentaBeneficiario"]), monto_to_centavos(o.get("monto")))
        for o in received
        if _counts(o, fecha)
    ]
    refunds = [
        ("refund", str(o["cuentaOrdenante"]), -monto_to_centavos(o.get("monto")))
        for o in sent
        if _counts(o, fecha)
    ]
    return totals(deposits + refunds)
