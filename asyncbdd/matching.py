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
import uuid

__all__ = ["mismatch_hint", "parse_value", "same_value", "shorten", "show_value"]

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
    if isinstance(expected, str) and isinstance(actual, dt.datetime):
        return expected in {actual.isoformat(), actual.isoformat(sep=" ")}
    if isinstance(expected, str) and isinstance(actual, (dt.date, dt.time)):
        return expected == actual.isoformat()
    if isinstance(expected, str) and isinstance(actual, uuid.UUID):
        return expected == str(actual)
    return type(expected) is type(actual) and expected == actual


def mismatch_hint(expected: object, actual: object) -> str | None:
    """A sentence explaining a near miss of types (``"97"`` against ``97``), if any."""
    if isinstance(expected, str) and str(actual) == expected:
        if isinstance(actual, bool):
            return f"the value is the boolean {str(actual).lower()}; write it without quotes"
        if isinstance(actual, (numbers.Number, decimal.Decimal)):
            return f"the value is the number {actual}; write it without quotes to expect a number"
    if isinstance(actual, str) and not isinstance(expected, str) and str(expected) == actual:
        return f'the value is the text {actual!r}; write it in quotes ("{actual}")'
    return None


def show_value(value: object, limit: int = 200) -> str:
    """A value as a message should show it: text quoted, numbers and dates bare.

    ``'pending'`` against ``97`` makes the type visible; ``Decimal('99.99')`` reads
    ``99.99`` and a datetime its ISO form, as a feature file would write them.
    """
    if isinstance(value, (decimal.Decimal, uuid.UUID)):
        text = str(value)
    elif isinstance(value, (dt.date, dt.time)):
        text = value.isoformat()
    else:
        text = repr(value)
    return shorten(" ".join(text.split()), limit)


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in "..." when cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
