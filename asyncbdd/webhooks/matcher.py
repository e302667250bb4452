"""What a webhook call must be: body, fields, headers, method, path, query, signature."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asyncbdd.content import BodyMatcher, check_expected_values, named_value_problems
from asyncbdd.errors import InvalidInput
from asyncbdd.secrets import mask_named
from asyncbdd.webhooks.call import Call, Signature

__all__ = ["CallMatcher"]


@dataclass(frozen=True)
class CallMatcher(BodyMatcher):
    """What a call must carry. Every part given must match; none given matches all.

    ``body``: a JSON document the body must contain (a subset, or all of it with
    ``exact_body``). ``fields``: (dotted path, expected value as a feature writes it)
    pairs for the JSON body. ``headers`` and ``query``: (name, expected value) pairs;
    header names in any case. ``method``: ``POST`` (any case). ``path``: the path below
    the receiver's URL (``/orders/1``; ``""`` for the URL itself). ``signed``: the call
    carries a valid signature (a secret must be configured).
    """

    headers: tuple[tuple[str, str], ...] = ()
    method: str | None = None
    path: str | None = None
    query: tuple[tuple[str, str], ...] = ()
    signed: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_expected_values(self.headers, "header")
        check_expected_values(self.query, "query parameter")

    @classmethod
    def from_table(cls, headings: Sequence[str], rows: Iterable[Sequence[str]]) -> CallMatcher:
        """From a two-column table: ``| field | value |`` (JSON body), ``| header | value |``
        or ``| query | value |`` (query parameters)."""
        kind = headings[0].strip().lower() if headings else ""
        if len(headings) != 2 or kind not in ("field", "header", "query"):
            raise InvalidInput(
                f"A call table has the columns | field | value | (body fields), "
                f"| header | value | (headers) or | query | value | (query parameters), not "
                f"| {' | '.join(headings)} |."
            )
        pairs = tuple((row[0].strip(), row[1]) for row in rows)
        if kind == "header":
            return cls(headers=pairs)
        return cls(query=pairs) if kind == "query" else cls(fields=pairs)

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
        parts += [f"query {name} = {text.strip()}" for name, text in self.query]
        parts += [f"header {name} = {text.strip()}" for name, text in self.headers]
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
