"""Business days follow America/Mexico_City; everything stored stays in UTC."""

from datetime import UTC, date, datetime, time, timedelta

from cobro.domain.expiry import MEXICO_CITY


def business_day(at: datetime) -> date:
    """The Mexico City calendar day an instant belongs to (23:30 there is 05:30 UTC next day)."""
    return at.astimezone(MEXICO_CITY).date()


def day_window(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a Mexico City day, in UTC."""
    start = datetime.combine(day, time(0), tzinfo=MEXICO_CITY)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=MEXICO_CITY)
    return start.astimezone(UTC), end.astimezone(UTC)


def previous_business_day(now: datetime) -> date:
    return business_day(now) - timedelta(days=1)
