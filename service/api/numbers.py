"""Numeric request parameters in the API's one number grammar (:mod:`layout.numbers`).

``Int`` and ``Decimal`` are ``int`` / ``float`` whose text form must be plain ASCII (no ``1_0``,
no ``١``, no blanks, no ``inf`` / ``nan``); use them, with ``Query`` / ``Path`` / ``Form``
constraints, for every number a request carries.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator

from layout.numbers import parse_decimal, parse_int


def _int_text(value: Any) -> Any:
    return parse_int(value) if isinstance(value, str) else value


def _decimal_text(value: Any) -> Any:
    return parse_decimal(value) if isinstance(value, str) else value


Int = Annotated[int, BeforeValidator(_int_text)]
Decimal = Annotated[float, BeforeValidator(_decimal_text)]
