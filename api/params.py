"""Dates and times in URLs as the schema states them (RFC 3339), and nothing else: pydantic
alone would also read `0.5` as a Unix time and `0` as 1970-01-01."""

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BeforeValidator

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}.*")


def _matching(pattern: re.Pattern[str], example: str) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str) and not pattern.fullmatch(value):
            raise ValueError(f"not an RFC 3339 value like {example}")
        return value

    return BeforeValidator(check)


Rfc3339Date = Annotated[date, _matching(_DATE, "2026-11-26")]
Rfc3339DateTime = Annotated[datetime, _matching(_DATE_TIME, "2026-11-26T00:00:00Z")]
