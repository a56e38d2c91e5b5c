"""OXXO voucher expiry: 23:59:59 America/Mexico_City on the last day, as Stripe's vouchers do,
returned in UTC. Mexico City has been UTC-6 all year since 2022 (no more daylight saving time),
so the expected UTC values below are written out by hand."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cobro.domain.expiry import oxxo_days, oxxo_expires_at

MEXICO_CITY_OFFSET = timezone(timedelta(hours=-6))
DAY = 86_400


def test_stripes_documented_example_monday_plus_2_days_is_wednesday_2359() -> None:
    monday_morning = datetime(2024, 3, 4, 10, 0, tzinfo=MEXICO_CITY_OFFSET)
    assert monday_morning.strftime("%A") == "Monday"

    expires = oxxo_expires_at(monday_morning, 2)

    # Wednesday 23:59:59 in Mexico City is Thursday 05:59:59 UTC.
    assert expires == datetime(2024, 3, 7, 5, 59, 59, tzinfo=UTC)
    local = expires.astimezone(MEXICO_CITY_OFFSET)
    assert (local.strftime("%A"), local.hour, local.minute) == ("Wednesday", 23, 59)


def test_result_is_in_utc() -> None:
    expires = oxxo_expires_at(datetime(2024, 3, 4, 16, 0, tzinfo=UTC), 1)
    assert expires.utcoffset() == timedelta(0)
    assert expires.isoformat() == "2024-03-06T05:59:59+00:00"


def test_days_count_from_the_mexico_city_date_not_the_utc_date() -> None:
    # Monday 23:30 in Mexico City is already Tuesday 05:30 in UTC.
    late_monday = datetime(2024, 3, 5, 5, 30, tzinfo=UTC)
    assert late_monday.astimezone(MEXICO_CITY_OFFSET).strftime("%A %H:%M") == "Monday 23:30"

    expires = oxxo_expires_at(late_monday, 2)

    assert expires == datetime(2024, 3, 7, 5, 59, 59, tzinfo=UTC)  # Wednesday 23:59:59 local


def test_created_just_after_local_midnight_counts_from_that_day() -> None:
    # Tuesday 00:10 in Mexico City (06:10 UTC): 1 day -> Wednesday 23:59:59 local.
    expires = oxxo_expires_at(datetime(2024, 3, 5, 6, 10, tzinfo=UTC), 1)
    assert expires == datetime(2024, 3, 7, 5, 59, 59, tzinfo=UTC)


def test_input_in_any_timezone_gives_the_same_instant() -> None:
    instant = datetime(2024, 3, 5, 5, 30, tzinfo=UTC)
    tokyo = instant.astimezone(timezone(timedelta(hours=9)))
    assert oxxo_expires_at(tokyo, 3) == oxxo_expires_at(instant, 3)


def test_summer_dates_use_utc_minus_6_too() -> None:
    # Before 2022 Mexico City observed daylight saving time (UTC-5 in summer); no longer.
    expires = oxxo_expires_at(datetime(2024, 7, 1, 12, 0, tzinfo=UTC), 3)
    assert expires == datetime(2024, 7, 5, 5, 59, 59, tzinfo=UTC)


def test_crossing_month_and_year_end() -> None:
    expires = oxxo_expires_at(datetime(2024, 12, 30, 18, 0, tzinfo=UTC), 7)
    assert expires == datetime(2025, 1, 7, 5, 59, 59, tzinfo=UTC)  # Jan 6 23:59:59 local


@pytest.mark.parametrize(
    ("expires_in_s", "days"),
    [
        (1, 1),
        (3600, 1),
        (DAY, 1),
        (DAY + 1, 2),  # rounded up: the merchant never gets less time than asked
        (2 * DAY, 2),
        (259_200, 3),
        (3 * DAY - 1, 3),
        (7 * DAY, 7),
    ],
)
def test_oxxo_days_rounds_seconds_up_to_whole_days(expires_in_s: int, days: int) -> None:
    assert oxxo_days(expires_in_s) == days


@pytest.mark.parametrize(
    ("expires_in_s", "days"),
    [(0, 1), (-DAY, 1), (7 * DAY + 1, 7), (30 * DAY, 7)],
)
def test_oxxo_days_is_clamped_to_stripes_1_to_7(expires_in_s: int, days: int) -> None:
    assert oxxo_days(expires_in_s) == days
