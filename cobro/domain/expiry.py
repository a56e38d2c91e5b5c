"""When a voucher expires: OXXO vouchers at 23:59 America/Mexico_City on their last day."""

from datetime import UTC, datetime, time, timedelta
from math import ceil
from zoneinfo import ZoneInfo

MEXICO_CITY = ZoneInfo("America/Mexico_City")


def oxxo_days(expires_in_s: int) -> int:
    """Stripe takes whole days (1-7); round the merchant's seconds up so it never gets less."""
    return min(7, max(1, ceil(expires_in_s / 86_400)))


def oxxo_expires_at(created: datetime, days: int) -> datetime:
    """23:59:59 Mexico City time, `days` calendar days after creation there, in UTC.

    Created Monday with 2 days, it expires Wednesday 23:59 (Stripe's documented example).
    """
    local_day = created.astimezone(MEXICO_CITY).date() + timedelta(days=days)
    end = datetime.combine(local_day, time(23, 59, 59), tzinfo=MEXICO_CITY)
    return end.astimezone(UTC)
