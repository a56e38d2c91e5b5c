"""How cobro writes instants for people and merchants: RFC 3339 in UTC with a `Z`."""

from datetime import UTC, datetime


def rfc3339_utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
