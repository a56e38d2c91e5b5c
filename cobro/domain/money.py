"""Money in cobro is integer centavos. This module is the one place that turns decimal pesos
into centavos and back, and writes an amount for people ("1,234.50 MXN").

Pure and float-free. PSPs that speak decimal pesos (STP's `monto`, MoonPay's amount strings) are
read from a Decimal (a JSON number parsed with `parse_float=Decimal`, see `loads`), an int or a
numeric string, converted exactly: 0.29 pesos is 29 centavos, never 28.999... An amount finer
than a centavo is refused, not rounded.
"""

import json
from decimal import Decimal, InvalidOperation
from typing import Any

CURRENCY = "MXN"
MAX_CENTAVOS = 2**63 - 1  # the BIGINT money columns


def loads(body: str | bytes) -> Any:
    """JSON whose decimal numbers are pesos: read as Decimal, never as float."""
    return json.loads(body, parse_float=Decimal)


def to_centavos(pesos: object, what: str = "amount") -> int:
    """Decimal pesos as exact integer centavos: "1234.5" -> 123450. Raises ValueError, naming
    `what`, for a float or anything but a Decimal, an int or a numeric string, for NaN or
    infinity, a negative amount, one finer than a centavo, or one too large for cobro."""
    if isinstance(pesos, bool) or not isinstance(pesos, int | Decimal | str):
        raise ValueError(f"{what} must be a number of pesos, not {pesos!r}")
    try:
        value = Decimal(pesos)
    except InvalidOperation:
        raise ValueError(f"{what} {pesos!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{what} {pesos!r} is not a finite amount")
    if value < 0:
        raise ValueError(f"{what} {pesos!r} is negative")
    if value == 0:
        return 0
    if value.adjusted() > 18:  # at least 10^19 pesos: far past MAX_CENTAVOS, so do no arithmetic
        raise ValueError(f"{what} {pesos!r} is too large")
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # finite
    kept = list(digits)
    while exponent < -2 and kept[-1] == 0:  # 100.100 pesos is still whole centavos
        kept.pop()
        exponent += 1
    if exponent < -2:
        raise ValueError(f"{what} {pesos!r} has more than 2 decimals")
    # At most 21 digits by now (below 10^19 pesos, to the centavo): exact integer arithmetic.
    centavos = int("".join(map(str, kept)) + "0" * (exponent + 2))
    if centavos > MAX_CENTAVOS:
        raise ValueError(f"{what} {pesos!r} is too large")
    return centavos


def to_pesos(centavos: int) -> Decimal:
    """Exact decimal pesos with two places: 123450 -> Decimal("1234.50")."""
    if isinstance(centavos, bool) or not isinstance(centavos, int):
        raise TypeError(f"centavos must be an int, not {centavos!r}")
    return Decimal(f"{centavos}E-2")


def pesos_string(centavos: int) -> str:
    """Pesos as a PSP's decimal string: 123450 -> "1234.50"."""
    return f"{to_pesos(centavos):f}"


def format_pesos(centavos: int) -> str:
    """Pesos for people: 123450 -> "1,234.50"."""
    return f"{to_pesos(centavos):,.2f}"


def format_amount(centavos: int, currency: str = CURRENCY) -> str:
    """An amount for people: 123450 -> "1,234.50 MXN"."""
    return f"{format_pesos(centavos)} {currency}"
