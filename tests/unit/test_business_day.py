"""Reconciliation days are Mexico City days, whatever the UTC date says."""

from datetime import UTC, date, datetime

from cobro.domain.business_day import business_day, day_window, previous_business_day


def test_late_evening_in_mexico_city_is_still_that_day() -> None:
    # 23:30 in Mexico City (UTC-6, no daylight saving since 2022) is 05:30 UTC the next day.
    assert business_day(datetime(2026, 11, 27, 5, 30, tzinfo=UTC)) == date(2026, 11, 26)
    assert business_day(datetime(2026, 11, 27, 6, 0, tzinfo=UTC)) == date(2026, 11, 27)
    assert business_day(datetime(2026, 11, 27, 5, 59, 59, tzinfo=UTC)) == date(2026, 11, 26)


def test_a_day_window_is_midnight_to_midnight_mexico_city_in_utc() -> None:
    assert day_window(date(2026, 11, 26)) == (
        datetime(2026, 11, 26, 6, 0, tzinfo=UTC),
        datetime(2026, 11, 27, 6, 0, tzinfo=UTC),
    )


def test_runs_just_after_midnight_in_either_zone_reconcile_the_right_day() -> None:
    # 00:30 Mexico City on the 27th = 06:30 UTC: yesterday there is the 26th.
    assert previous_business_day(datetime(2026, 11, 27, 6, 30, tzinfo=UTC)) == date(2026, 11, 26)
    # 00:30 UTC on the 27th is still 18:30 on the 26th in Mexico City: yesterday is the 25th.
    assert previous_business_day(datetime(2026, 11, 27, 0, 30, tzinfo=UTC)) == date(2026, 11, 25)


def test_a_summer_day_has_the_same_offset() -> None:
    start, end = day_window(date(2026, 7, 1))
    assert (start.hour, end.hour) == (6, 6)
