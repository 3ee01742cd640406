"""The grammar of numbers written as text, the same everywhere musicprism reads one (query
and form parameters, path ids, facet weights, settings, metadata CSVs).

Python's ``int()`` and ``float()`` accept more than an API should: digit separators
(``1_0`` is 10), any Unicode digit (``١`` is 1), surrounding blanks, ``inf`` and ``nan``. Here
a number is plain ASCII: an optional sign, digits, for a decimal an optional fraction and
exponent, and nothing else; a decimal must also be finite.
"""

from __future__ import annotations

import math
import re

INTEGER = re.compile(r"[+-]?[0-9]+")
DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")

INTEGER_RULE = "an integer in ASCII digits (e.g. 42)"
DECIMAL_RULE = "a plain decimal number in ASCII digits (e.g. 0.7 or 1e-3)"


class NumberSyntaxError(ValueError):
    """Text that is not a number by this grammar; says what is expected."""

    def __init__(self, text: str, rule: str) -> None:
        self.text, self.rule = text, rule
        super().__init__(f"{text!r} is not {rule}")


def parse_int(text: str) -> int:
    """``text`` as an integer (raises :class:`NumberSyntaxError`)."""
    if not INTEGER.fullmatch(text):
        raise NumberSyntaxError(text, INTEGER_RULE)
    return int(text)


def parse_decimal(text: str) -> float:
    """``text`` as a finite float (raises :class:`NumberSyntaxError`)."""
    if not DECIMAL.fullmatch(text):
        raise NumberSyntaxError(text, DECIMAL_RULE)
    value = float(text)
    if not math.isfinite(value):
        raise NumberSyntaxError(text, f"{DECIMAL_RULE}, within the range of a double")
    return value
