"""What a webhook call must be: body, fields, headers, method, path, query, signature."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.content import (
    BodyMatcher,
    cells_to_values,
    expected_values,
    named_value_problems,
    show_expected,
)
from asyncbdd.errors import InvalidInput
from asyncbdd.secrets import mask_named
from asyncbdd.webhooks.call import Call, Signature

__all__ = ["CallMatcher"]


@dataclass(frozen=True)
class CallMatcher(BodyMatcher):
    """What a call must carry. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: dotted paths of the JSON body and the Python values they
    must hold, ``{"status": "completed", "amount": 99.99}``. ``headers`` and ``query``:
    names and the values they must have, ``{"X-Correlation-Id": "cid-1"}`` (header names
    in any case; both are text, so an expected ``1`` means ``"1"``). ``method``: ``POST``
    (any case). ``path``: the path below the receiver's URL (``/orders/1``; ``""`` for the
    URL itself). ``signed``: the call carries a valid signature (a secret must be
    configured). Values compare as :func:`~asyncbdd.matching.same_value` does: text is
    text, and a marker is a :func:`~asyncbdd.matching.parse_marker`.

    Text as a feature writes it (``"ord-1"`` in quotes, ``99.99``, ``<any>``) is read by
    :meth:`from_table`.
    """

    headers: Mapping[str, Any] = field(default_factory=dict)
    method: str | None = None
    path: str | None = None
    query: Mapping[str, Any] = field(default_factory=dict)
    signed: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "headers", expected_values(self.headers, "headers", type(self)))
        object.__setattr__(self, "query", expected_values(self.query, "query", type(self)))

    @classmethod
    def from_table(cls, headings: Sequence[str], rows: Iterable[Sequence[str]]) -> CallMatcher:
        """From a two-column table of cells as a feature writes them: ``| field | value |``
        (JSON body), ``| header | value |`` or ``| query | value |`` (query parameters)."""
        kind = headings[0].strip().lower() if headings else ""
        if len(headings) != 2 or kind not in ("field", "header", "query"):
            raise InvalidInput(
                f"A call table has the columns | field | value | (body fields), "
                f"| header | value | (headers) or | query | value | (query parameters), not "
                f"| {' | '.join(headings)} |."
            )
        pairs = [(row[0], row[1]) for row in rows]
        if kind == "header":
            return cls(headers=cells_to_values(pairs, "header", as_text=True))
        if kind == "query":
            return cls(query=cells_to_values(pairs, "query parameter", as_text=True))
        return cls(fields=cells_to_values(pairs, "field"))

    def problems(self, call: Call) -> list[str]:
        """Why ``call`` does not match, one line each; empty when it matches."""
        found: list[str] = []
        if self.method is not None and call.method.upper() != self.method.upper():
            found.append(f"method: expected {self.method.upper()}, got {call.method}")
        if self.path is not None and call.relative_path.rstrip("/") != self.path.rstrip("/"):
            found.append(
                f"path below the receiver's URL: expected {self.path!r}, got {call.relative_path!r}"
            )
        found += named_value_problems(
            "query parameter",
            self.query,
            lambda name: _first(call.query_params.get(name)),
            shown=mask_named,
            always_text=True,
        )
        found += named_value_problems(
            "header", self.headers, call.header, shown=call.shown_header, always_text=True
        )
        found += self.body_problems(call.text, call.json, call.json_problem)
        if self.signed and call.signature is not Signature.VALID:
            found.append(f"signature: {_unsigned(call)}")
        return found

    def __str__(self) -> str:
        parts = [f"method {self.method.upper()}"] if self.method is not None else []
        if self.path is not None:
            parts.append(f"path {self.path!r}")
        parts += [f"query {name} = {show_expected(value)}" for name, value in self.query.items()]
        parts += [f"header {name} = {show_expected(value)}" for name, value in self.headers.items()]
        parts += self.body_parts()
        if self.signed:
            parts.append("a valid signature")
        return "with " + ", ".join(parts) if parts else "of any content"


def _first(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _unsigned(call: Call) -> str:
    if call.signature is Signature.UNCHECKED:
        return "not checked: no secret is configured (setting asyncbdd.webhooks.secret)"
    if call.signature is Signature.TOO_LARGE:
        return (
            f"not checked: the call was refused as too large (answered {call.status}: "
            f"{call.note}), so its signature could not be checked"
        )
    return f"{call.signature.value}" + (f" ({call.note})" if call.note else "")
