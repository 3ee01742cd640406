"""layout.numbers: the one grammar of numbers written as text."""

from __future__ import annotations

import pytest

from layout.numbers import NumberSyntaxError, parse_decimal, parse_int


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0), ("42", 42), ("+7", 7), ("-12", -12), ("007", 7), ("99999999999999999999", 10**20 - 1),
])
def test_integers(text: str, value: int) -> None:
    assert parse_int(text) == value


@pytest.mark.parametrize("text", ["", " 5", "5 ", "1_0", "\u0661", "\uff11", "1.0", "1e3",
                                  "0x10", "--1", "+", "five", "5\n"])
def test_not_integers(text: str) -> None:
    with pytest.raises(NumberSyntaxError, match="is not an integer in ASCII digits"):
        parse_int(text)


@pytest.mark.parametrize(("text", "value"), [
    ("0", 0.0), ("0.7", 0.7), (".5", 0.5), ("3.", 3.0), ("-2.5", -2.5), ("1e-3", 1e-3),
    ("+1E+2", 100.0), ("1.5e300", 1.5e300),
])
def test_decimals(text: str, value: float) -> None:
    assert parse_decimal(text) == value


@pytest.mark.parametrize("text", ["", "1_0.5", "\u0661", "inf", "-inf", "nan", "NaN", " 1",
                                  "1.2.3", "e3", "1e", ".", "0x1p3", "1,5"])
def test_not_decimals(text: str) -> None:
    with pytest.raises(NumberSyntaxError, match="is not a plain decimal number"):
        parse_decimal(text)


def test_overflow_is_refused() -> None:
    with pytest.raises(NumberSyntaxError, match="within the range of a double"):
        parse_decimal("1e999")
