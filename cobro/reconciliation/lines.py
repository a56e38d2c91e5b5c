"""A settlement report as reconciliation compares it: per (line type, PSP reference), the day's
total in integer centavos, refunds negative."""

from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, date, datetime

from cobro.domain.business_day import day_window

Key = tuple[str, str]  # ("charge" | "refund", the PSP reference cobro stores for the payment)
Lines = dict[Key, int]
# Reads one PSP's report for a Mexico City business day; raises when it cannot.
ReportReader = Callable[[date], Awaitable[Lines]]


def totals(entries: Iterable[tuple[str, str, int]]) -> Lines:
    """(line type, reference, centavos) entries summed per key: several deposits to one CLABE,
    or several refunds of one payment on a day, are one line."""
    lines: dict[Key, int] = defaultdict(int)
    for line_type, reference, amount in entries:
        lines[(line_type, reference)] += amount
    return dict(lines)


def in_day(moment: datetime, day: date) -> bool:
    """Whether an instant belongs to the Mexico City business day."""
    start, end = day_window(day)
    return start <= moment < end


def from_unix(seconds: object) -> datetime:
    if isinstance(seconds, bool) or not isinstance(seconds, int | str):
        raise ValueError(f"not a Unix timestamp: {seconds!r}")
    return datetime.fromtimestamp(int(seconds), tz=UTC)
