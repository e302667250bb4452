"""Typed values as feature files write them, and comparison that explains itself.

In a table cell or after "is", ``97`` is a number, ``99.99`` a number, ``"97"`` a string,
``true``/``false`` booleans, ``null`` None, and any other bare word a string::

    >>> parse_value('97'), parse_value('"97"'), parse_value('pending')
    (97, '97', 'pending')

:func:`same_value` compares an expected value with what a system returned: numbers by
numeric value (``97 == Decimal("97.0")``), dates and times by their ISO text, everything
else by ``==`` with types respected, so ``"97"`` does not equal ``97``.

Markers stand for a kind of value. Written bare in a cell, or as a whole JSON string in an
expected document, they are: ``<any>`` (any value, null included, but not a missing
field), ``<any text>``, ``<any number>``, ``<uuid>``, ``<regex:PATTERN>`` (the whole text
matches) and ``<near:99.99±0.01>`` (``+-`` works for ``±``). Other text in angle
brackets (``<b>bold</b>``) is plain text; in a cell, quotes keep a marker literal.

Documents are matched by :func:`json_mismatches` (a JSON subset: extra fields allowed
unless ``exact``) and by :func:`table_mismatches` (``| field | value |`` rows whose fields
are paths such as ``order.items[0].sku``, read by :func:`field_value`). Both return
:class:`Mismatch` records that name the path of each difference.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import functools
import json
import numbers
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from asyncbdd.errors import InvalidInput

__all__ = [
    "MARKERS",
    "MISSING",
    "Marker",
    "Mismatch",
    "field_mismatches",
    "field_text",
    "field_value",
    "json_expectation",
    "json_mismatches",
    "mismatch_hint",
    "parse_json_document",
    "parse_marker",
    "parse_value",
    "same_value",
    "shorten",
    "show_value",
    "table_mismatches",
]

MARKERS: Final = "<any>, <any text>, <any number>, <uuid>, <regex:PATTERN>, <near:NUMBER±TOLERANCE>"
"""The markers, as a message lists them."""


class _Missing(enum.Enum):
    """The type of :data:`MISSING`."""

    MISSING = "MISSING"

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing.MISSING
"""An absent field, as opposed to a field present with the value null (None)."""

_UNSIGNED = r"(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?"
_INTEGER = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(rf"[-+]?{_UNSIGNED}")
_WORDS: dict[str, object] = {"true": True, "false": False, "null": None, "none": None}


def parse_value(text: str) -> object:
    """Read a value written in a step or table cell (see the module docstring).

    A bare marker (``<any number>``) becomes a :class:`Marker`; marker-like text that is no
    marker (``<anything>``) raises :class:`~asyncbdd.errors.InvalidInput`.
    """
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        return stripped[1:-1]
    try:
        marker = parse_marker(stripped)
    except InvalidInput as error:
        raise InvalidInput(
            f'{error} To expect the text itself, write it in quotes: "{stripped}".'
        ) from None
    if marker is not None:
        return marker
    if _FLOAT.fullmatch(stripped):
        return int(stripped) if _INTEGER.fullmatch(stripped) else float(stripped)
    if stripped.lower() in _WORDS:
        return _WORDS[stripped.lower()]
    if stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            pass
    return stripped


def same_value(expected: object, actual: object) -> bool:
    """Whether ``actual`` is what ``expected`` (as written in a feature) asks for.

    A :class:`Marker` decides for itself; text is compared as text, never read as a marker.
    """
    if isinstance(expected, Marker):
        return expected.matches(actual)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    if isinstance(expected, numbers.Number) and isinstance(
        actual, (numbers.Number, decimal.Decimal)
    ):
        return decimal.Decimal(str(expected)) == decimal.Decimal(str(actual))
    if isinstance(expected, str) and isinstance(actual, (dt.date, dt.time, uuid.UUID)):
        return expected in _spellings(actual)
    return type(expected) is type(actual) and expected == actual


def mismatch_hint(expected: object, actual: object) -> str | None:
    """A sentence explaining a near miss of types (``"97"`` against ``97``), if any."""
    if isinstance(expected, Marker):
        return None
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
    ``99.99``, a datetime its ISO form and a marker its text, as a feature file would
    write them.
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


@dataclasses.dataclass(frozen=True, repr=False)
class Marker:
    """An expected value that stands for a kind of value (``<any number>``).

    Made by :func:`parse_marker`; shown, and equal to another, by the text it was written
    as. ``accepts`` tells whether a present value is of the kind.
    """

    text: str
    accepts: Callable[[object], bool] = dataclasses.field(compare=False)

    def matches(self, actual: object) -> bool:
        """Whether ``actual`` is of the marker's kind; a :data:`MISSING` field never is."""
        return actual is not MISSING and self.accepts(actual)

    def __repr__(self) -> str:
        return self.text


def parse_marker(text: str) -> Marker | None:
    """The :class:`Marker` ``text`` is written as, or None when ``text`` is no marker.

    Only the whole text counts, spaces included: ``"<any>"`` is a marker, ``" <any>"`` and
    ``"<b>bold</b>"`` are not. Text that looks like a marker but is none (``<anything>``,
    ``<regex>``, ``<near:5>``) raises :class:`~asyncbdd.errors.InvalidInput`.
    """
    if not _MARKER_LIKE.fullmatch(text):
        return None
    inner = text[1:-1]
    if inner.startswith("regex:"):
        try:
            pattern = re.compile(inner.removeprefix("regex:"))
        except re.error as error:
            raise InvalidInput(
                f"Marker {text} has an invalid pattern: {error}. Write a Python regular "
                "expression; it must match the whole text."
            ) from None
        return Marker(text, functools.partial(_matches_pattern, pattern))
    if inner.startswith("near:"):
        near = _NEAR.fullmatch(inner.removeprefix("near:"))
        if near is None:
            raise InvalidInput(
                f"Malformed marker {text}: write <near:NUMBER±TOLERANCE>, e.g. "
                "<near:99.99±0.01> (or <near:99.99+-0.01>), with a tolerance of 0 or more."
            )
        center, tolerance = (decimal.Decimal(group) for group in near.groups())
        return Marker(text, functools.partial(_is_near, center, tolerance))
    accepts = _KIND_MARKERS.get(" ".join(inner.split()))
    if accepts is None:
        raise InvalidInput(f"Unknown marker {text}. Markers are: {MARKERS}.")
    return Marker(text, accepts)


def field_text(document: Any, path: str) -> str | None:
    """The value at ``path`` in ``document`` as text (a correlation id), or None when the
    field is absent or null. See :func:`field_value` for paths."""
    value = field_value(document, path)
    return None if value is MISSING or value is None else str(value)


def field_value(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or :data:`MISSING` when there is none.

    Names are joined by dots and list positions written in brackets: ``order.items[0].sku``,
    ``items[-1]`` (counted from the end), ``[0].sku`` (in a document that is a list). A
    key that itself holds a dot or a bracket cannot be named. A malformed path raises
    :class:`~asyncbdd.errors.InvalidInput`.
    """
    value = document
    for step in _path_steps(path):
        if isinstance(step, int):
            if not _is_list(value) or not -len(value) <= step < len(value):
                return MISSING
        elif not isinstance(value, Mapping) or step not in value:
            return MISSING
        value = value[step]
    return value


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One difference between an expectation and a document.

    ``path`` names the field (``items[0].sku``; empty for the whole document),
    ``expected`` is :data:`MISSING` for an unexpected field and ``actual`` for an absent
    one, and ``reason`` says what differs. ``str()`` reads ``path: reason``, e.g.
    ``amount: expected 99.99, got 9999``.
    """

    path: str
    expected: object
    actual: object
    reason: str

    def __str__(self) -> str:
        return f"{self.path or 'the document'}: {self.reason}"


def json_mismatches(expected: Any, actual: Any, *, exact: bool = False) -> list[Mismatch]:
    """How ``actual`` differs from the JSON value ``expected``; empty when it matches.

    An object matches an object holding at least its fields (exactly its fields, at any
    depth, when ``exact``); a list matches a list of the same length, element by element;
    other values compare as :func:`same_value` does. Strings in ``expected`` that are
    markers are read as markers (see :func:`json_expectation`).
    """
    mismatches: list[Mismatch] = []
    _compare(json_expectation(expected, "the expected JSON"), actual, "", exact, mismatches)
    return mismatches


def json_expectation(document: Any, what: str) -> Any:
    """``document`` with each string that is a marker replaced by its :class:`Marker`.

    Reading an expectation once, before waiting for a message, reports a mistyped marker
    at once: :class:`~asyncbdd.errors.InvalidInput` names ``what`` and the field's path.
    A JSON string cannot expect marker text literally.
    """
    return _read_markers(document, "", what)


def table_mismatches(rows: Iterable[tuple[str, str]], actual: Any) -> list[Mismatch]:
    """How ``actual`` differs from a table of ``| field | value |`` rows; empty if it matches.

    A field is a path as :func:`field_value` reads it, a value a cell as :func:`parse_value`
    reads it (typed, or a marker), compared as :func:`same_value` does; a cell holding a
    JSON object or list is matched as a subset, as :func:`json_mismatches` does.
    """
    pairs = ((path, parse_value(cell)) for path, cell in rows)
    return field_mismatches(pairs, actual, what="the table")


def field_mismatches(
    fields: Iterable[tuple[str, object]], actual: Any, *, what: str = "the expected fields"
) -> list[Mismatch]:
    """How ``actual`` differs from (path, expected value) pairs; empty if it matches.

    Paths are read as :func:`field_value` reads them; a value is compared as
    :func:`same_value` does (text is text, a :class:`Marker` a marker), and an object or a
    list is matched as a subset, as :func:`json_mismatches` does, its marker strings read
    as markers (a mistyped one raises :class:`~asyncbdd.errors.InvalidInput` naming
    ``what``).
    """
    mismatches: list[Mismatch] = []
    for path, value in fields:
        field = path.strip()
        expected = _read_markers(value, field, what) if _is_document(value) else value
        _compare(expected, field_value(actual, field), field, False, mismatches)
    return mismatches


def _is_document(value: object) -> bool:
    return isinstance(value, Mapping) or _is_list(value)


def parse_json_document(text: str, what: str) -> Any:
    """The JSON value of ``text``, written in a feature where ``what`` says.

    Malformed or empty text raises :class:`~asyncbdd.errors.InvalidInput` naming ``what``,
    the line and column, quoting the line with a caret under the column, with a hint for
    common slips: single quotes, a trailing comma, unquoted keys, Python's True and None.
    """
    if not text or not text.strip():
        raise InvalidInput(
            f"No JSON in {what}: it is empty. "
            'Write one JSON value there, e.g. {"order_id": "ord-1"}.'
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(_json_error_message(text, what, error)) from None


def _compare(expected: Any, actual: Any, path: str, exact: bool, into: list[Mismatch]) -> None:
    if actual is MISSING:
        into.append(Mismatch(path, expected, actual, f"missing (expected {show_value(expected)})"))
    elif isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            into.append(
                Mismatch(path, expected, actual, f"expected an object, got {show_value(actual)}")
            )
            return
        for key, value in expected.items():
            _compare(value, actual.get(key, MISSING), _join(path, key), exact, into)
        if exact:
            into.extend(
                Mismatch(
                    _join(path, key),
                    MISSING,
                    value,
                    f"unexpected field with value {show_value(value)}",
                )
                for key, value in actual.items()
                if key not in expected
            )
    elif _is_list(expected):
        if not _is_list(actual):
            into.append(
                Mismatch(path, expected, actual, f"expected a list, got {show_value(actual)}")
            )
        elif len(expected) != len(actual):
            items = "item" if len(expected) == 1 else "items"
            reason = f"expected {len(expected)} {items}, got {len(actual)}: {show_value(actual)}"
            into.append(Mismatch(path, expected, actual, reason))
        else:
            for index, (wanted, got) in enumerate(zip(expected, actual, strict=True)):
                _compare(wanted, got, f"{path}[{index}]", exact, into)
    elif not same_value(expected, actual):
        reason = f"expected {show_value(expected)}, got {show_value(actual)}"
        hint = mismatch_hint(expected, actual)
        into.append(Mismatch(path, expected, actual, f"{reason}; {hint}" if hint else reason))


def _read_markers(value: Any, path: str, what: str) -> Any:
    if isinstance(value, str):
        try:
            marker = parse_marker(value)
        except InvalidInput as error:
            where = f", at {path}" if path else ""
            raise InvalidInput(f"In {what}{where}: {error}") from None
        return value if marker is None else marker
    if isinstance(value, Mapping):
        return {key: _read_markers(item, _join(path, key), what) for key, item in value.items()}
    if _is_list(value):
        return [_read_markers(item, f"{path}[{index}]", what) for index, item in enumerate(value)]
    return value


def _spellings(value: dt.date | dt.time | uuid.UUID) -> set[str]:
    if isinstance(value, uuid.UUID):
        return {str(value)}
    if isinstance(value, dt.datetime):
        return {value.isoformat(), value.isoformat(sep=" ")}
    return {value.isoformat()}


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def _is_list(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes, bytearray))


def _is_number(value: object) -> bool:
    return isinstance(value, (numbers.Real, decimal.Decimal)) and not isinstance(value, bool)


def _is_uuid(value: object) -> bool:
    return isinstance(value, uuid.UUID) or (
        isinstance(value, str) and _UUID.fullmatch(value) is not None
    )


def _matches_pattern(pattern: re.Pattern[str], value: object) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def _is_near(center: decimal.Decimal, tolerance: decimal.Decimal, value: object) -> bool:
    if not _is_number(value):
        return False
    number = decimal.Decimal(str(value))
    return number.is_finite() and abs(number - center) <= tolerance


@functools.lru_cache(maxsize=256)
def _path_steps(path: str) -> tuple[str | int, ...]:
    text = path.strip()
    if not text:
        raise InvalidInput(f"Invalid field path {path!r}: it is empty. {_PATH_FORM}")
    steps: list[str | int] = []
    position = 0
    while position < len(text):
        step = (_NEXT_STEP if position else _FIRST_STEP).match(text, position)
        if step is None:
            where = f"after {text[:position]!r}" if position else "at its start"
            raise InvalidInput(
                f"Invalid field path {path!r}: cannot read {text[position:]!r} {where}. "
                f"{_PATH_FORM}"
            )
        name, index = step.groups()
        steps.append(name if index is None else int(index))
        position = step.end()
    return tuple(steps)


def _json_error_message(text: str, what: str, error: json.JSONDecodeError) -> str:
    end = len(text.rstrip())
    if error.pos >= end:
        position, problem = end, "the document ends too early"
        hint: str | None = "finish the last value and close every { and [ that is open."
    elif _is_trailing_comma(text, error):
        position = text.rfind(",", 0, error.pos + 1)
        problem, hint = "a comma after the last item", "JSON allows none; remove it."
    else:
        position = error.pos
        problem = _JSON_PROBLEMS.get(error.msg, error.msg[:1].lower() + error.msg[1:])
        hint = _json_hint(text[position:], error.msg)
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    line = text[line_start : len(text) if line_end < 0 else line_end].rstrip("\r")
    line_number = text.count("\n", 0, position) + 1
    column = position - line_start + 1
    lines = [
        f"Invalid JSON in {what} at line {line_number}, column {column}: {problem}",
        *_point_at(line, column),
    ]
    if hint:
        lines.append(f"Hint: {hint}")
    return "\n".join(lines)


def _is_trailing_comma(text: str, error: json.JSONDecodeError) -> bool:
    closing = text[error.pos : error.pos + 1] in ("]", "}")
    return error.msg.startswith("Illegal trailing comma") or (
        closing and text[: error.pos].rstrip().endswith(",")
    )


def _json_hint(rest: str, message: str) -> str | None:
    if rest.startswith("'"):
        quoted = re.match(r"'([^'\n]*)'", rest)
        word = quoted.group(1) if quoted else "..."
        return f"JSON puts text and keys in double quotes: write \"{word}\", not '{word}'."
    if re.match(r"(?:True|False|None)\b", rest):
        return "write true, false and null, not Python's True, False and None."
    key = re.match(r"[A-Za-z_$][\w$-]*", rest)
    if key and message.startswith("Expecting property name"):
        return f'JSON keys need double quotes: write "{key.group()}".'
    if rest.startswith(("//", "/*", "#")):
        return "JSON has no comments; remove them."
    return _JSON_HINTS.get(message)


def _point_at(line: str, column: int) -> list[str]:
    shown, offset = line.replace("\t", " "), column - 1
    if len(shown) > _QUOTED_LINE:
        start = max(0, min(offset - _QUOTED_LINE // 2, len(shown) - _QUOTED_LINE))
        end = start + _QUOTED_LINE
        prefix = "..." if start else ""
        shown = prefix + shown[start:end] + ("..." if end < len(shown) else "")
        offset += len(prefix) - start
    return [f"    {shown}", "    " + " " * offset + "^"]


_MARKER_LIKE = re.compile(r"<\s*(?:(?:any|uuid)[\w\s-]*|(?:regex|near).*)>", re.I | re.DOTALL)
_NEAR = re.compile(rf"\s*([-+]?{_UNSIGNED})\s*(?:±|\+-|\+/-)\s*({_UNSIGNED})\s*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_KIND_MARKERS: dict[str, Callable[[object], bool]] = {
    "any": lambda value: True,
    "any text": lambda value: isinstance(value, str),
    "any number": _is_number,
    "uuid": _is_uuid,
}
_FIRST_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")
_NEXT_STEP = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]")
_PATH_FORM = "Write names joined by dots and list positions in brackets, e.g. order.items[0].sku."
_JSON_PROBLEMS = {
    "Unterminated string starting at": "unterminated text",
    "Invalid control character at": "a line break or tab inside text",
    "Extra data": "more text after the JSON value",
}
_JSON_HINTS = {
    "Extra data": "a document holds one value; put several in a list: [{...}, {...}].",
    "Expecting ',' delimiter": "a comma is missing between two items, "
    "or a ] or } closes the wrong bracket.",
    "Expecting ':' delimiter": 'a colon must follow each key: "key": value.',
    "Unterminated string starting at": "close the text with a double quote.",
    "Invalid control character at": "JSON text cannot hold a line break or tab; write \\n or \\t.",
}
_QUOTED_LINE = 100
