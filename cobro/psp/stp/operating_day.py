"""STP's operating day ("fecha de operación"): the day STP files a transfer under.

SPEI runs around the clock, but STP closes its operating day at a cut-off: a transfer from
18:00 Mexico City time on belongs to the next operating day, and operating days are bank
business days, so a transfer on a Saturday, a Sunday or a bank holiday belongs to the next
business day (STP's "Fecha de Operación" article, stpmex.zendesk.com/hc/es/articles/
360045884491, as the reference client stpmex-python's business_days applies it: hour >= 18 ->
next day, then skip weekends and holidays). STP's conciliation reports each order under its
`fechaOperacion`, so reconciliation compares STP by operating day, not by Mexico City midnight.

Bank holidays are the CNBV's días inhábiles: the federal holidays with their Monday rule, Holy
Thursday and Friday, 2 November, 12 December and the 1 October of each presidential
inauguration (every 6 years from 2024). Simplification: a holiday decreed for one year only
is not known here.
"""

from datetime import UTC, date, datetime, time, timedelta

from cobro.domain.expiry import MEXICO_CITY

CUTOFF = time(18, 0)  # Mexico City: from here on, a transfer is the next operating day's


def _nth_monday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7 + 7 * (n - 1))


def _easter(year: int) -> date:
    """Gregorian Easter Sunday (the Meeus/Jones/Butcher algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (b - (b + 8) // 25 + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    weekday = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * weekday) // 451
    month, day = divmod(h + weekday - 7 * m + 114, 31)
    return date(year, month, day + 1)


def bank_holidays(year: int) -> frozenset[date]:
    easter = _easter(year)
    days = {
        date(year, 1, 1),
        _nth_monday(year, 2, 1),  # Constitution Day
        _nth_monday(year, 3, 3),  # Benito Juárez
        easter - timedelta(days=3),  # Holy Thursday
        easter - timedelta(days=2),  # Good Friday
        date(year, 5, 1),
        date(year, 9, 16),
        date(year, 11, 2),
        _nth_monday(year, 11, 3),  # Revolution Day
        date(year, 12, 12),
        date(year, 12, 25),
    }
    if year >= 2024 and (year - 2024) % 6 == 0:
        days.add(date(year, 10, 1))  # presidential inauguration
    return frozenset(days)


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays(day.year)


def next_business_day(day: date) -> date:
    """`day` itself when it is a business day, else the first one after it."""
    while not is_business_day(day):
        day += timedelta(days=1)
    return day


def operating_day(at: datetime) -> date:
    """The operating day STP files a transfer settled at `at` (an aware instant) under."""
    local = at.astimezone(MEXICO_CITY)
    day = local.date() + timedelta(days=1) if local.time() >= CUTOFF else local.date()
    return next_business_day(day)


def fecha_operacion(at: datetime) -> int:
    """`operating_day` as STP writes it: YYYYMMDD."""
    return int(operating_day(at).strftime("%Y%m%d"))


def operating_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the instants STP files under `day`: from the previous business
    day's cut-off to this day's. Empty for a day that is not a business day."""
    end = datetime.combine(day, CUTOFF, tzinfo=MEXICO_CITY).astimezone(UTC)
    if not is_business_day(day):
        return end, end
    previous = day - timedelta(days=1)
    while not is_business_day(previous):
        previous -= timedelta(days=1)
    start = datetime.combine(previous, CUTOFF, tzinfo=MEXICO_CITY).astimezone(UTC)
    return start, end
