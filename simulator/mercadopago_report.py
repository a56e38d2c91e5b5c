"""Mercado Pago's "all transactions" (settlement) report, what cobro reconciles MP against.

MP builds it on request: `POST /v1/account/settlement_report` `{"begin_date", "end_date"}`
answers 202; `GET /v1/account/settlement_report/list` lists the files (`file_name`,
`begin_date`, `end_date`, ...); `GET /v1/account/settlement_report/{file_name}` is the CSV.
A faithful subset of its columns (MP's report glossary): EXTERNAL_REFERENCE, SOURCE_ID,
USER_ID, PAYMENT_METHOD_TYPE, PAYMENT_METHOD, SITE, TRANSACTION_TYPE (SETTLEMENT for an
approved payment, REFUND for a refund), TRANSACTION_AMOUNT (decimal pesos, refunds negative),
TRANSACTION_CURRENCY, TRANSACTION_DATE, FEE_AMOUNT, SETTLEMENT_NET_AMOUNT, SETTLEMENT_DATE.

Simplifications: the file is ready at once, its rows are computed from the ledger when it is
downloaded (with any change injected through `POST /_sim/mercadopago/report`), fees are zero
and money settles when it is approved.
"""

import csv
import io
import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from cobro.psp.mercadopago import mapping
from simulator import mercadopago_api as api
from simulator import mercadopago_objects as objects
from simulator.report_changes import Line, Lines, served
from simulator.state import SimState

router = APIRouter(prefix="/mercadopago/v1/account/settlement_report")
COLUMNS = [
    "EXTERNAL_REFERENCE",
    "SOURCE_ID",
    "USER_ID",
    "PAYMENT_METHOD_TYPE",
    "PAYMENT_METHOD",
    "SITE",
    "TRANSACTION_TYPE",
    "TRANSACTION_AMOUNT",
    "TRANSACTION_CURRENCY",
    "TRANSACTION_DATE",
    "FEE_AMOUNT",
    "SETTLEMENT_NET_AMOUNT",
    "SETTLEMENT_DATE",
]
# Report files requested since the simulator started (or was reset), by file name.
FILES: dict[str, dict[str, Any]] = {}


def _row(payment: dict[str, Any], kind: str, pesos: float, at: str) -> Line:
    return {
        "EXTERNAL_REFERENCE": payment.get("external_reference") or "",
        "SOURCE_ID": str(payment["id"]),
        "USER_ID": str(objects.COLLECTOR_ID),
        "PAYMENT_METHOD_TYPE": payment.get("payment_type_id", ""),
        "PAYMENT_METHOD": payment.get("payment_method_id", ""),
        "SITE": "MLM",
        "TRANSACTION_TYPE": kind,
        "TRANSACTION_AMOUNT": f"{pesos:.2f}",
        "TRANSACTION_CURRENCY": "MXN",
        "TRANSACTION_DATE": at,
        "FEE_AMOUNT": "0.00",
        "SETTLEMENT_NET_AMOUNT": f"{pesos:.2f}",
        "SETTLEMENT_DATE": at,
    }


def _rows(state: SimState, kind: str) -> list[Line]:
    rows: list[Line] = []
    for charge in state.ledger.charges.values():
        payment = charge.object
        if charge.psp != api.PSP or not payment.get("date_approved"):
            continue
        if kind == "SETTLEMENT":
            rows.append(
                _row(payment, kind, payment["transaction_amount"], payment["date_approved"])
            )
        else:
            rows += [
                _row(payment, kind, -float(r["amount"]), r["date_created"])
                for r in payment.get("refunds") or []
                if r["status"] == "approved"
            ]
    return rows


def _set_amount(line: Line, centavos: int) -> None:
    sign = -1 if line["TRANSACTION_TYPE"] == "REFUND" else 1
    line["TRANSACTION_AMOUNT"] = f"{sign * mapping.to_pesos(centavos):.2f}"


def _forge(kind: str) -> Any:
    def forge(state: SimState, source_id: str, centavos: int) -> Line:
        sign = -1 if kind == "REFUND" else 1
        payment = {"id": source_id, "payment_type_id": "ticket", "payment_method_id": "oxxo"}
        return _row(payment, kind, sign * mapping.to_pesos(centavos), objects.now_mp())

    return forge


LINES: dict[str, Lines] = {
    line: Lines(
        read=lambda state, kind=kind: _rows(state, kind),  # type: ignore[misc]
        reference=lambda row: str(row.get("SOURCE_ID")),
        set_amount=_set_amount,
        forge=_forge(kind),
    )
    for line, kind in (("charge", "SETTLEMENT"), ("refund", "REFUND"))
}


@router.post("")
async def create_report(request: Request) -> JSONResponse:
    await api.start(request)
    body = await api.json_body(request)
    begin, end = body.get("begin_date"), body.get("end_date")
    if not isinstance(begin, str) or not isinstance(end, str):
        raise api.bad_request("begin_date and end_date are required")
    file_name = f"settlement-report-{secrets.token_hex(6)}.csv"
    FILES[file_name] = {
        "id": len(FILES) + 1,
        "user_id": objects.COLLECTOR_ID,
        "begin_date": begin,
        "end_date": end,
        "file_name": file_name,
        "created_from": "manual",
        "date_created": objects.now_mp(),
    }
    return JSONResponse({}, status_code=202)


@router.get("/list")
async def list_reports(request: Request) -> JSONResponse:
    await api.start(request)
    return JSONResponse(list(FILES.values()))


@router.get("/{file_name}")
async def download(file_name: str, request: Request) -> PlainTextResponse:
    state = await api.start(request)
    if file_name not in FILES:
        raise api.MercadopagoError(404, "not_found", f"File {file_name} not found")
    begin = mapping.parse_time(FILES[file_name]["begin_date"])
    end = mapping.parse_time(FILES[file_name]["end_date"])
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for line, lines in LINES.items():
        for row in served(state, api.PSP, line, lines):
            if begin <= mapping.parse_time(row["TRANSACTION_DATE"]) <= end:
                writer.writerow(row)
    return PlainTextResponse(out.getvalue(), media_type="text/csv")
