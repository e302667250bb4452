"""What a message or a webhook call carries, and the matching they share.

Both carry a body that is usually JSON, matched by a document it must contain (or equal)
and by ``| field | value |`` rows, and named text values (message attributes, Kafka
headers, HTTP headers) matched by ``| attribute | value |`` or ``| header | value |``
rows. :class:`BodyMatcher` holds the body part; :func:`named_value_problems` checks
named values. The matchers of each pattern (``MessageMatcher``, ``CallMatcher``) build on
both and add what only they have (a Kafka key; an HTTP method, path and query).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, NamedTuple

from asyncbdd.deprecation import warn_deprecated
from asyncbdd.errors import InvalidInput
from asyncbdd.matching import (
    Marker,
    field_mismatches,
    json_expectation,
    json_mismatches,
    parse_value,
    same_value,
    shorten,
    show_value,
)

__all__ = [
    "ANY_BODY",
    "MAX_JSON_DEPTH",
    "NOT_JSON",
    "BodyMatcher",
    "JsonReading",
    "cells_to_values",
    "expected_values",
    "named_value_problems",
    "parse_body",
    "read_json",
    "show_expected",
]

NOT_JSON: Any = type("NotJson", (), {"__repr__": lambda self: "NOT_JSON"})()
"""The parsed JSON of a body that is not JSON."""

ANY_BODY: Any = type("AnyBody", (), {"__repr__": lambda self: "ANY_BODY"})()
"""The :attr:`BodyMatcher.body` of a matcher that expects no document."""


MAX_JSON_DEPTH = 200
"""The deepest nesting of arrays and objects a body may have to be read as JSON.

json.loads gives up (RecursionError) at Python's recursion limit less the caller's stack
depth, so the same body would parse in the server's thread and not in a step; a fixed
limit well below it gives the same answer everywhere, and leaves room to match what was
parsed (matching walks it recursively)."""

_ESCAPED = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')  # once escapes are gone: linear, whatever the text
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))
_SQUARE = bytes.maketrans(b"{}", b"[]")
_STEP = [{ord("["): 1, ord("]"): -1}.get(byte, 0) for byte in range(256)]
"""How much each byte deepens the nesting, once every bracket is square."""


class JsonReading(NamedTuple):
    """What :func:`read_json` made of a body."""

    document: Any
    """The body parsed as JSON, or :data:`NOT_JSON`."""
    problem: str | None
    """Why a body that may well be JSON could not be read as such (nested too deep, too
    large); None when it is JSON, and when it is plainly not (text, empty)."""


def read_json(body: str | bytes) -> JsonReading:
    """``body`` parsed as JSON, or :data:`NOT_JSON` and why; never raises."""
    if _nested_deeper(body, MAX_JSON_DEPTH):
        return JsonReading(NOT_JSON, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return JsonReading(json.loads(body), None)
    except RecursionError:  # only for a caller already deep in its own stack
        return JsonReading(NOT_JSON, "JSON nested too deep to parse here")
    except MemoryError:
        unit = "bytes" if isinstance(body, bytes) else "characters"
        return JsonReading(NOT_JSON, f"too large to parse ({len(body):,} {unit})")
    except ValueError:
        return JsonReading(NOT_JSON, None)


def parse_body(body: str | bytes) -> Any:
    """``body`` parsed as JSON, or :data:`NOT_JSON` (see :func:`read_json`)."""
    return read_json(body).document


def _nested_deeper(body: str | bytes, limit: int) -> bool:
    """Whether arrays and objects in ``body`` nest more than ``limit`` deep (brackets in
    strings do not count). Linear in the body's size, whatever it holds."""
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if data.count(b"[") + data.count(b"{") <= limit:  # most bodies: no scan at all
        return False
    brackets = _STRING.sub(b"", _ESCAPED.sub(b"", data)).translate(_SQUARE, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:  # the usual hostile body: found without counting
        return True
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


@dataclass(frozen=True)
class BodyMatcher:
    """What a body must hold. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: dotted paths of the JSON body and the values they must
    hold, as Python values (``{"order.currency": "EUR", "amount": 99.99}``): compared as
    :func:`~asyncbdd.matching.same_value` does, so text is text; a marker is a
    :func:`~asyncbdd.matching.parse_marker` (``parse_marker("<any number>")``), and an
    object or list is matched as a subset.
    """

    body: Any = ANY_BODY
    exact_body: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.body is not ANY_BODY:  # a mistyped marker fails now, not when a body comes
            object.__setattr__(self, "body", json_expectation(self.body, "the expected body"))
        object.__setattr__(self, "fields", expected_values(self.fields, "fields", type(self)))

    def body_problems(self, text: str, document: Any, why: str | None = None) -> list[str]:
        """Why a body (its ``text`` and parsed ``document``, or :data:`NOT_JSON` and
        ``why`` it is not JSON, if known) does not match, one line each; empty when it
        matches."""
        if self.body is ANY_BODY and not self.fields:
            return []
        if document is NOT_JSON:
            reason = f" ({why})" if why else ""
            return [f"the body is not JSON{reason}: {show_value(text[:200], 80)}"]
        found: list[str] = []
        if self.body is not ANY_BODY:
            found += [str(m) for m in json_mismatches(self.body, document, exact=self.exact_body)]
        if self.fields:
            found += [str(m) for m in field_mismatches(self.fields.items(), document)]
        return found

    def body_parts(self) -> list[str]:
        """The body parts of the matcher's description: ``containing {...}``, ``a = 1``."""
        parts = []
        if self.body is not ANY_BODY:
            which = "exactly" if self.exact_body else "containing"
            parts.append(f"{which} {show_value(json.dumps(self.body), 120)}")
        return parts + [f"{path} = {show_expected(value)}" for path, value in self.fields.items()]


def expected_values(
    given: Mapping[str, Any] | Iterable[tuple[str, str]], keyword: str, owner: type
) -> dict[str, Any]:
    """The expected named values a matcher was given as ``keyword`` (``fields``,
    ``headers``), checked now, so that a mistyped marker in an expected document fails
    before any wait, not when a body comes (or never).

    ``given`` maps names to Python values. (name, text as a feature writes it) pairs, the
    form of the last release, are still read as a table's cells are, with a
    :class:`DeprecationWarning`. ``owner`` is the matcher's class.
    """
    matcher = owner.__name__
    if isinstance(given, Mapping):
        values = dict(given)
        for name, value in values.items():
            if not isinstance(name, str) or not name.strip():
                raise InvalidInput(
                    f"{matcher}({keyword}=...) maps names to expected values; {name!r} is "
                    f"not a name. Write e.g. {matcher}({keyword}={{'order_id': 'ord-1'}})."
                )
            if isinstance(value, (Mapping, list, tuple)):
                json_expectation(value, f"the expected {keyword} {name!r}")
        return values
    warn_deprecated(
        f"{matcher}({keyword}=...) with (name, text as a feature writes it) pairs",
        f"a dict of Python values, {matcher}({keyword}={{'order_id': 'ord-1'}}), or "
        f"{matcher}.from_table(...) for text as a feature writes it",
    )
    return cells_to_values(given, keyword.rstrip("s"))


def cells_to_values(
    pairs: Iterable[tuple[str, str]], what: str, *, as_text: bool = False
) -> dict[str, Any]:
    """(name, cell) pairs of a table as expected Python values, each cell read as
    :func:`~asyncbdd.matching.parse_value` reads it; a name given twice is an error (both
    rows could never hold at once, and one of them would be dropped).

    With ``as_text`` (HTTP headers, query parameters: text by nature) a cell that reads
    as no text and no marker (``42``, ``true``) is the text written.
    """
    values: dict[str, Any] = {}
    for raw, text in pairs:
        name = raw.strip()
        where = f"{what} {name!r}"
        if name in values:
            raise InvalidInput(
                f"The expected {where} is given twice; give each {what} once, in one row."
            )
        try:
            value = parse_value(text)
        except InvalidInput as error:
            raise InvalidInput(f"In the expected {where}: {error}") from None
        if isinstance(value, (dict, list)):
            json_expectation(value, f"the expected {where}")
        if as_text and not isinstance(value, (str, Marker)):
            value = text.strip()
        values[name] = value
    return values


def show_expected(value: object) -> str:
    """An expected value as a matcher's description shows it: as a feature writes it
    (``"EUR"``, ``99.99``, ``<any number>``)."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (Mapping, list, tuple)):
        return shorten(json.dumps(value, default=str, ensure_ascii=False), 120)
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    return show_value(value)


def named_value_problems(
    what: str,
    expected: Mapping[str, Any],
    lookup: Callable[[str], str | None],
    *,
    shown: Callable[[str, str], str] | None = None,
    always_text: bool = False,
) -> list[str]:
    """Why named text values (attributes, headers) differ from ``expected`` (name to
    expected Python value); empty when they match.

    ``lookup`` gives a name's value (None: absent); ``shown`` gives the text a report may
    show of an actual value (to mask secrets); ``what`` names the kind in each line. With
    ``always_text`` (HTTP headers, query parameters: text by nature), an expected ``42``
    means the text ``"42"``; markers keep their meaning.
    """
    found: list[str] = []
    for name, value in expected.items():
        wanted = value
        if always_text and not isinstance(wanted, (str, Marker)):
            wanted = show_expected(value)
        actual = lookup(name)
        if actual is None:
            found.append(f"{what} {name!r}: missing (expected {show_value(wanted)})")
        elif not same_value(wanted, actual):
            visible = actual if shown is None else shown(name, actual)
            found.append(
                f"{what} {name!r}: expected {show_value(wanted)}, got {show_value(visible)}"
            )
    return found
