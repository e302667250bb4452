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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from asyncbdd.errors import InvalidInput
from asyncbdd.matching import (
    Marker,
    json_expectation,
    json_mismatches,
    parse_value,
    same_value,
    show_value,
    table_mismatches,
)

__all__ = [
    "ANY_BODY",
    "NOT_JSON",
    "BodyMatcher",
    "check_expected_values",
    "named_value_problems",
    "parse_body",
]

NOT_JSON: Any = type("NotJson", (), {"__repr__": lambda self: "NOT_JSON"})()
"""The parsed JSON of a body that is not JSON."""

ANY_BODY: Any = type("AnyBody", (), {"__repr__": lambda self: "ANY_BODY"})()
"""The :attr:`BodyMatcher.body` of a matcher that expects no document."""


def parse_body(body: str | bytes) -> Any:
    """``body`` parsed as JSON, or :data:`NOT_JSON`."""
    try:
        return json.loads(body)
    except ValueError:
        return NOT_JSON


@dataclass(frozen=True)
class BodyMatcher:
    """What a body must hold. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: (dotted path, expected value as a feature writes it)
    pairs for the JSON body.
    """

    body: Any = ANY_BODY
    exact_body: bool = False
    fields: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.body is not ANY_BODY:  # a mistyped marker fails now, not when a body comes
            object.__setattr__(self, "body", json_expectation(self.body, "the expected body"))
        check_expected_values(self.fields, "field")

    def body_problems(self, text: str, document: Any) -> list[str]:
        """Why a body (its ``text`` and parsed ``document``, or :data:`NOT_JSON`) does
        not match, one line each; empty when it matches."""
        if self.body is ANY_BODY and not self.fields:
            return []
        if document is NOT_JSON:
            return [f"the body is not JSON: {show_value(text, 80)}"]
        found: list[str] = []
        if self.body is not ANY_BODY:
            found += [str(m) for m in json_mismatches(self.body, document, exact=self.exact_body)]
        if self.fields:
            found += [str(m) for m in table_mismatches(self.fields, document)]
        return found

    def body_parts(self) -> list[str]:
        """The body parts of the matcher's description: ``containing {...}``, ``a = 1``."""
        parts = []
        if self.body is not ANY_BODY:
            which = "exactly" if self.exact_body else "containing"
            parts.append(f"{which} {show_value(json.dumps(self.body), 120)}")
        return parts + [f"{path} = {text.strip()}" for path, text in self.fields]


def check_expected_values(expected: Iterable[tuple[str, str]], what: str) -> None:
    """Read each (name, value as a feature writes it) pair now, so that a mistyped marker
    (``<near:lots>``) fails before any wait, not when a body comes, or never if none does.

    ``what`` names the kind of the rows in the error: ``field``, ``header``.
    """
    for name, text in expected:
        where = f"{what} {name.strip()!r}"
        try:
            value = parse_value(text)
        except InvalidInput as error:
            raise InvalidInput(f"In the expected {where}: {error}") from None
        if isinstance(value, (dict, list)):
            json_expectation(value, f"the expected {where}")


def named_value_problems(
    what: str,
    expected: Iterable[tuple[str, str]],
    lookup: Callable[[str], str | None],
    *,
    shown: Callable[[str, str], str] | None = None,
    always_text: bool = False,
) -> list[str]:
    """Why named text values (attributes, headers) differ from ``expected`` pairs of
    (name, value as a feature writes it); empty when they match.

    ``lookup`` gives a name's value (None: absent); ``shown`` gives the text a report may
    show of an actual value (to mask secrets); ``what`` names the kind in each line. With
    ``always_text`` (HTTP headers, query parameters: text by nature), an expected ``42``
    means the text ``"42"``; markers keep their meaning.
    """
    found: list[str] = []
    for name, text in expected:
        wanted = parse_value(text)
        if always_text and not isinstance(wanted, (str, Marker)):
            wanted = text.strip()
        actual = lookup(name)
        if actual is None:
            found.append(f"{what} {name!r}: missing (expected {show_value(wanted)})")
        elif not same_value(wanted, actual):
            visible = actual if shown is None else shown(name, actual)
            found.append(
                f"{what} {name!r}: expected {show_value(wanted)}, got {show_value(visible)}"
            )
    return found
