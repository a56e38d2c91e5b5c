"""Mercado Pago's report for daily reconciliation: the "all transactions" (settlement) report,
a CSV MP builds on request (`POST /v1/account/settlement_report` with `begin_date` /
`end_date`, then `GET .../settlement_report/list` until the file is there, then `GET
.../settlement_report/{file_name}`).

One row per money movement, columns cobro reads: SOURCE_ID (the MP payment id, cobro's
reference), TRANSACTION_TYPE (SETTLEMENT: an approved payment; REFUND: a total or partial
refund; CHARGEBACK and others move no money cobro asked for), TRANSACTION_AMOUNT (decimal
pesos) and TRANSACTION_DATE (when it happened, ISO 8601 with an offset). A payment counts on
the Mexico City day it was approved, a refund on the day it was made, both keyed by SOURCE_ID.
The separator MP writes is configurable (`,` or `;`): the header line says which.
"""

import asyncio
import csv
import io
from datetime import date

from cobro.domain.business_day import day_window
from cobro.psp.errors import PspUnavailable
from cobro.psp.mercadopago.client import MercadopagoClient
from cobro.psp.mercadopago.mapping import parse_time, to_centavos
from cobro.reconciliation.lines import Lines, in_day, totals

LINE_OF = {"SETTLEMENT": "charge", "REFUND": "refund"}
WAITS_S = (0.2, 0.5, 1, 2, 4, 8)  # MP builds the file asynchronously


def mp_date(moment: object) -> str:
    return str(moment).replace("+00:00", "Z")


async def mercadopago_lines(client: MercadopagoClient, day: date) -> Lines:
    start, end = day_window(day)
    begin, until = mp_date(start.isoformat()), mp_date(end.isoformat())
    await client.create_settlement_report(begin, until)
    for wait in WAITS_S:
        for report in await client.list_settlement_reports():
            if (report.get("begin_date"), report.get("end_date")) == (begin, until) and report.get(
                "file_name"
            ):
                return report_lines(
                    await client.download_settlement_report(str(report["file_name"])), day
                )
        await asyncio.sleep(wait)
    raise PspUnavailable(f"mercadopago settlement report for {day} is not ready yet")


def report_lines(text: str, day: date) -> Lines:
    """ValueError for a row whose amount or date cannot be read."""
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    entries: list[tuple[str, str, int]] = []
    for row in csv.DictReader(io.StringIO(text), delimiter=delimiter):
        line = LINE_OF.get((row.get("TRANSACTION_TYPE") or "").strip().upper())
        if line is None or not in_day(parse_time(row.get("TRANSACTION_DATE")), day):
            continue
        amount = to_centavos((row.get("TRANSACTION_AMOUNT") or "").strip())
        # What left counts as a refund, whichever sign the report gives it.
        entries.append(
            (line, str(row["SOURCE_ID"]).strip(), -abs(amount) if line == "refund" else amount)
        )
    return totals(entries)
