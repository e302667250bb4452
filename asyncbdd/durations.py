"""Durations and counts written in plain English, as feature files write them.

>>> parse_duration("1 minute 30 seconds")
90.0
>>> parse_count("no messages")
0
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from asyncbdd.errors import InvalidInput

__all__ = [
    "COUNT_EXAMPLES",
    "DURATION_EXAMPLES",
    "format_duration",
    "parse_count",
    "parse_duration",
    "to_seconds",
]

DURATION_EXAMPLES = ("10 seconds", "500 ms", "1.5 minutes", "2 s", "1 minute 30 seconds")
COUNT_EXAMPLES = ("1 message", "3 messages", "no messages", "one call", "2 calls")

_UNIT_SECONDS = {
    "ms": 0.001, "millisecond": 0.001, "milliseconds": 0.001,
    "s": 1.0, "sec": 1.0, "secs": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "mins": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
}  # fmt: skip
_NUMBER_WORDS = {
    "no": 0, "zero": 0, "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4,
    "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
_DURATION_PART = re.compile(
    r"(?:\s*(?:,|and))?\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]+)\s*", re.IGNORECASE
)
_COUNT = re.compile(r"^\s*(\d+|[a-z]+)(?:\s+([a-z][a-z_\- ]*?))?\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Return the number of seconds written in ``text`` ("10 seconds", "1 minute 30 s").

    Raises :class:`~asyncbdd.errors.InvalidInput` naming the text and showing valid
    examples when it is not a duration.
    """
    position = 0
    total = 0.0
    parts = 0
    stripped = text.strip()
    while position < len(stripped):
        match = _DURATION_PART.match(stripped, position)
        if not match or match.group(2).lower() not in _UNIT_SECONDS:
            raise _bad_duration(text)
        total += float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
        parts += 1
        position = match.end()
    if parts == 0 or not total < math.inf:
        raise _bad_duration(text)
    return total


def parse_count(text: str) -> int:
    """Return the count written in ``text`` ("1 message", "no messages", "one call")."""
    match = _COUNT.match(text)
    if match:
        number = match.group(1).lower()
        if number.isdigit():
            return int(number)
        if number in _NUMBER_WORDS:
            return _NUMBER_WORDS[number]
    examples = ", ".join(repr(e) for e in COUNT_EXAMPLES)
    raise InvalidInput(f"{text!r} is not a count. Write a number and a noun, e.g. {examples}.")


def to_seconds(value: float | timedelta | str) -> float:
    """Normalise a duration given as seconds, a ``timedelta`` or English text."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, str):
        seconds = parse_duration(value)
    else:
        seconds = float(value)
    if not 0 <= seconds < math.inf:
        raise InvalidInput(
            f"A duration cannot be negative, NaN or infinite; got {value!r}. Write a finite "
            "number of seconds, e.g. 10, timedelta(seconds=10) or '10 seconds'."
        )
    return seconds


def format_duration(seconds: float) -> str:
    """Render seconds for people: ``0.012`` -> ``"12 ms"``, ``90`` -> ``"1 min 30 s"``."""
    if seconds == math.inf:
        return "forever"
    if round(seconds * 1000) < 1000:
        return f"{seconds * 1000:.0f} ms"
    if round(seconds, 2) < 60:
        return f"{seconds:.2f} s".replace(".00 s", " s")
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if rest else f"{minutes} min"


def _bad_duration(text: str) -> InvalidInput:
    examples = ", ".join(repr(e) for e in DURATION_EXAMPLES)
    units = "ms, seconds (s), minutes (min), hours (h)"
    return InvalidInput(
        f"{text!r} is not a duration. Write a number and a unit ({units}), e.g. {examples}."
    )
