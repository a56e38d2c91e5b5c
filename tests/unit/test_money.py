"""cobro/domain/money.py: decimal pesos <-> integer centavos, exactly, and "1,234.50 MXN"."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobro.domain import money

CENTAVOS = st.integers(min_value=0, max_value=money.MAX_CENTAVOS)


@pytest.mark.parametrize(
    ("pesos", "centavos"),
    [
        ("0.29", 29),  # through float, 0.29 * 100 is 28.999999999999996
        (Decimal("0.29"), 29),
        ("0.1", 10),
        ("1234.5", 123_450),
        ("1234.50", 123_450),
        ("100.100", 10_010),  # trailing zeros below the centavo are still whole centavos
        ("1." + "0" * 40, 100),  # more digits than Decimal's 28-digit context keeps
        ("1e2", 10_000),
        ("0.00", 0),
        ("-0", 0),
        (250, 25_000),
        (Decimal("92233720368547758.07"), money.MAX_CENTAVOS),
    ],
)
def test_decimal_pesos_are_exact_centavos(pesos: object, centavos: int) -> None:
    assert money.to_centavos(pesos) == centavos


@pytest.mark.parametrize(
    ("pesos", "reason"),
    [
        ("0.001", "more than 2 decimals"),
        ("10.255", "more than 2 decimals"),
        ("1.0000000000000000000000000000001", "more than 2 decimals"),  # past 28 digits
        ("1E-1000000", "more than 2 decimals"),
        ("-1", "negative"),
        ("NaN", "not a finite amount"),
        ("Infinity", "not a finite amount"),
        ("abc", "not a number"),
        ("", "not a number"),
        (0.29, "must be a number of pesos"),  # a float is refused, not trusted
        (250.0, "must be a number of pesos"),
        (True, "must be a number of pesos"),
        (None, "must be a number of pesos"),
        ("92233720368547758.08", "too large"),  # one centavo past BIGINT
        ("1E+1000000", "too large"),
    ],
)
def test_anything_but_whole_centavos_is_refused_with_the_reason(pesos: object, reason: str) -> None:
    with pytest.raises(ValueError, match=f"^monto .*{reason}"):
        money.to_centavos(pesos, "monto")


@given(CENTAVOS)
def test_centavos_to_a_pesos_string_and_back_is_the_identity(centavos: int) -> None:
    text = money.pesos_string(centavos)
    assert text == f"{centavos // 100}.{centavos % 100:02d}"  # always two decimals, no grouping
    assert money.to_centavos(text) == centavos


@given(CENTAVOS)
def test_centavos_through_a_json_number_read_as_decimal_and_back(centavos: int) -> None:
    wire = f'{{"monto": {money.pesos_string(centavos)}}}'  # a JSON number, as STP sends
    assert money.to_centavos(money.loads(wire)["monto"]) == centavos
    assert money.to_centavos(money.to_pesos(centavos)) == centavos


@given(CENTAVOS, st.integers(min_value=1, max_value=9))
def test_a_third_decimal_is_always_refused(centavos: int, extra: int) -> None:
    with pytest.raises(ValueError, match="more than 2 decimals"):
        money.to_centavos(f"{money.pesos_string(centavos)}{extra}")


@given(st.integers(min_value=-(10**20), max_value=10**20))
def test_the_display_is_grouped_pesos_with_two_decimals(centavos: int) -> None:
    shown = money.format_amount(centavos)
    number, currency = shown.split(" ")
    assert currency == "MXN"
    assert (
        number
        == ("-" if centavos < 0 else "") + f"{abs(centavos) // 100:,}.{abs(centavos) % 100:02d}"
    )


@pytest.mark.parametrize(
    ("centavos", "shown"),
    [(0, "0.00 MXN"), (1, "0.01 MXN"), (25_000, "250.00 MXN"), (123_450, "1,234.50 MXN")],
)
def test_amounts_are_shown_as_people_read_them(centavos: int, shown: str) -> None:
    assert money.format_amount(centavos) == shown
    assert money.format_amount(centavos, "USD") == shown.replace("MXN", "USD")


def test_json_decimal_numbers_are_read_as_decimal_never_float() -> None:
    body = money.loads(b'{"monto": 0.29, "n": 3}')
    assert body == {"monto": Decimal("0.29"), "n": 3}
    assert money.to_centavos(body["monto"]) == 29


@pytest.mark.parametrize("centavos", [1.5, True, "100", Decimal(100)])
def test_only_integer_centavos_become_pesos(centavos: object) -> None:
    with pytest.raises(TypeError):
        money.to_pesos(centavos)  # type: ignore[arg-type]
