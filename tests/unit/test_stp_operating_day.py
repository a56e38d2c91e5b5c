"""STP's operating day: a transfer from 18:00 Mexico City time on, or on a weekend or bank holiday,
is filed under the next business day, and reconciliation groups STP's lines (and cobro's side of
STP) by that day, not by Mexico City midnight."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from cobro.domain.business_day import business_day
from cobro.domain.expiry import MEXICO_CITY
from cobro.psp.stp.operating_day import (
    bank_holidays,
    fecha_operacion,
    operating_day,
    operating_window,
)
from cobro.psp.stp.reconciliation import order_lines
from simulator import stp_report

FRIDAY = date(2026, 11, 27)
MONDAY = date(2026, 11, 30)
TUESDAY = date(2026, 12, 1)
CLABE = "646180432141403599"


def _mx(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=MEXICO_CITY)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (_mx(TUESDAY, 17, 59, 59), TUESDAY),  # before the cut-off: the same day
        (_mx(TUESDAY, 18, 0), date(2026, 12, 2)),  # at the cut-off: the next day's
        (_mx(TUESDAY, 23, 59), date(2026, 12, 2)),  # Mexico City's day would say Tuesday
        (_mx(FRIDAY, 17, 0), FRIDAY),
        (_mx(FRIDAY, 18, 30), MONDAY),  # Friday evening: Monday's
        (_mx(date(2026, 11, 28), 11, 0), MONDAY),  # a Saturday deposit
        (_mx(date(2026, 11, 29), 23, 0), MONDAY),  # Sunday night
        (_mx(date(2026, 11, 13), 19, 0), date(2026, 11, 17)),  # Friday evening, Monday holiday
        (_mx(date(2026, 12, 11), 18, 1), date(2026, 12, 14)),  # 12 December is a Saturday
        (_mx(date(2026, 4, 1), 20, 0), date(2026, 4, 6)),  # Holy Thursday and Friday
    ],
)
def test_the_operating_day_of_an_instant(at: datetime, expected: date) -> None:
    assert operating_day(at) == expected
    assert operating_day(at.astimezone(UTC)) == expected  # the instant, whatever its zone
    assert fecha_operacion(at) == int(expected.strftime("%Y%m%d"))
    assert stp_report.fecha_operacion(at) == fecha_operacion(at)  # what the simulator files


def test_23_59_is_mexico_citys_day_but_stps_next_one() -> None:
    late = _mx(TUESDAY, 23, 59)
    assert business_day(late) == TUESDAY
    assert operating_day(late) == TUESDAY + timedelta(days=1)


def test_bank_holidays_follow_the_cnbv_calendar() -> None:
    assert bank_holidays(2026) == {
        date(2026, 1, 1),
        date(2026, 2, 2),
        date(2026, 3, 16),
        date(2026, 4, 2),
        date(2026, 4, 3),
        date(2026, 5, 1),
        date(2026, 9, 16),
        date(2026, 11, 2),
        date(2026, 11, 16),
        date(2026, 12, 12),
        date(2026, 12, 25),
    }
    assert date(2030, 10, 1) in bank_holidays(2030)  # a presidential inauguration
    assert date(2021, 2, 1) in bank_holidays(2021)  # stpmex's own test case


def test_an_operating_window_runs_from_the_previous_business_days_cut_off() -> None:
    assert operating_window(TUESDAY) == (
        _mx(MONDAY, 18).astimezone(UTC),
        _mx(TUESDAY, 18).astimezone(UTC),
    )
    # Monday's covers Friday evening and the weekend; Saturday has none.
    assert operating_window(MONDAY) == (
        _mx(FRIDAY, 18).astimezone(UTC),
        _mx(MONDAY, 18).astimezone(UTC),
    )
    start, end = operating_window(date(2026, 11, 28))
    assert start == end
    # Every instant of a window has that operating day, the instants around it do not.
    start, end = operating_window(MONDAY)
    assert operating_day(start) == MONDAY and operating_day(end - timedelta(seconds=1)) == MONDAY
    assert operating_day(start - timedelta(seconds=1)) == FRIDAY
    assert operating_day(end) == TUESDAY


def _deposit(at: datetime, monto: str) -> dict[str, Any]:
    return {
        "cuentaBeneficiario": CLABE,
        "monto": monto,
        "estado": "TLQ",
        "fechaOperacion": fecha_operacion(at),
    }


def test_stp_lines_are_grouped_by_fecha_de_operacion() -> None:
    before = _deposit(_mx(FRIDAY, 17, 59), "100.00")
    after = _deposit(_mx(FRIDAY, 18, 1), "20.00")
    saturday = _deposit(_mx(date(2026, 11, 28), 10, 0), "3.00")
    orders = [before, after, saturday]
    assert order_lines(orders, [], fecha_operacion(_mx(FRIDAY, 12))) == {("charge", CLABE): 10_000}
    assert order_lines(orders, [], fecha_operacion(_mx(MONDAY, 12))) == {("charge", CLABE): 2_300}
