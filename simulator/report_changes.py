"""Make a simulated PSP's settlement report disagree with its own records, for reconciliation
tests (`POST /_sim/{psp}/report`): drop a line, change its amount, or add a line for money the
PSP never had. The ledger (the ground truth) is never touched: the changes are laid over the
report each time it is served, so the rest of the simulation goes on as before.

Each PSP describes its report lines with `Lines` (one per line type), in its own format;
`served` reads them from the ledger and applies that PSP's changes in the order they were made.
"""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field

from simulator.state import SimState

Line = dict[str, Any]


class ReportChange(BaseModel):
    op: Literal["add", "remove", "set_amount"]
    # The reference the line is about, as cobro stores it: a Conekta order id, the CLABE of an
    # STP deposit (or the CLABE an STP transfer was sent from), a MoonPay transaction id.
    reference: str
    type: Literal["charge", "refund"] = "charge"
    amount: int = Field(default=0, ge=0, description="centavos; refunds too are given positive")


@dataclass(frozen=True)
class Lines:
    """One line type of a PSP's report, in the PSP's own format."""

    read: Callable[[SimState], list[Line]]  # the PSP's records of it, as report lines
    reference: Callable[[Line], str]
    set_amount: Callable[[Line, int], None]  # centavos, written in the PSP's unit
    forge: Callable[[SimState, str, int], Line]  # a line for money the PSP never had


class NoSuchLine(LookupError):
    pass


def served(state: SimState, psp: str, line_type: str, lines: Lines) -> list[Line]:
    """The report lines as the PSP serves them: its records with the injected changes."""
    report = copy.deepcopy(lines.read(state))
    for change in state.ledger.report_changes.get(psp, []):
        if change["type"] != line_type:
            continue
        if change["op"] == "add":
            report.append(copy.deepcopy(change["line"]))
            continue
        # A line removed since the change was made (a reset) simply stays unchanged.
        if found := next((x for x in report if lines.reference(x) == change["reference"]), None):
            if change["op"] == "remove":
                report.remove(found)
            else:
                lines.set_amount(found, change["amount"])
    return report


def record(state: SimState, psp: str, change: ReportChange, lines: Lines) -> None:
    """Keep the change; NoSuchLine when it would remove or alter a line the report lacks. A
    forged line is made once, now, so every later read serves the same one."""
    stored: dict[str, Any] = change.model_dump()
    if change.op == "add":
        stored["line"] = lines.forge(state, change.reference, change.amount)
    elif not any(
        lines.reference(x) == change.reference for x in served(state, psp, change.type, lines)
    ):
        raise NoSuchLine(f"no {change.type} line for {change.reference!r} in the {psp} report")
    state.ledger.report_changes.setdefault(psp, []).append(stored)
    state.ledger.save()
