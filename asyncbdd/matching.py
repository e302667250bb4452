"""Typed values as feature files write them, and comparison that explains itself.

In a table cell or after "is", ``97`` is a number, ``99.99`` a number, ``"97"`` a string,
``true``/``false`` booleans, ``null`` None, and any other bare word a string::

    >>> parse_value('97'), parse_value('"97"'), parse_value('pending')
    (97, '97', 'pending')

:func:`same_value` compares an expected value with what a system returned: numbers by
numeric value (``97 == Decimal("97.0")``), dates and times by their ISO text, everything
else by ``==`` with types respected, so ``"97"`` does not equal ``97``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import numbers
import re

__all__ = ["mismatch_hint", "parse_value", "same_value"]

_INTEGER = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_WORDS: dict[str, object] = {"true": True, "false": False, "null": None, "none": None}


def parse_value(text: str) -> object:
    """Read a value written in a step or table cell (see the module docstring)."""
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass
    return stripped


def same_value(expected: object, actual: object) -> bool:
    """Whether ``actual`` is what ``expected`` (as written in a feature) asks for."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, numbers.Number) and isinstance(
        actual, (numbers.Number, decimal.Decimal)
    ):
        return decimal.Decimal(str(expected)) == decimal.Decimal(str(actual))
    if isinstance(expected, str) and isinstance(actual, (dt.date, dt.time)):
        return actual.isoformat() == expected
    return type(expected) is type(actual) and expected == actual


def mismatch_hint(expected: object, actual: object) -> str | None:
    """A sentence explaining a near miss of types (``"97"`` against ``97``), if any."""
    if isinstance(expected, str) and isinstance(actual, numbers.Number) and str(actual) == expected:
        return f"the value is the number {actual!r}; write it without quotes to expect a number"
    if isinstance(actual, str) and not isinstance(expected, str) and str(expected) == actual:
        return f'the value is the text {actual!r}; write it in quotes ("{actual}")'
    return None
