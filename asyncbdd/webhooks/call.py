"""A webhook call as the capture server records it, with secrets masked wherever it is shown."""

from __future__ import annotations

import enum
import time
import urllib.parse
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from asyncbdd.content import JsonReading, read_json
from asyncbdd.matching import shorten
from asyncbdd.secrets import mask_named, mask_query, mask_value

__all__ = ["Call", "Signature", "mask"]

mask = mask_value
"""A secret as reports show it (:func:`asyncbdd.secrets.mask_value`)."""


class Signature(enum.Enum):
    """What checking a call's signature found."""

    VALID = "valid"
    MISSING = "missing"
    INVALID = "invalid"
    UNCHECKED = "not checked"
    """No secret is configured, so nothing was checked."""
    TOO_LARGE = "not checked: too large"
    """A secret is configured, but the call was refused (413) before its body was read."""


@dataclass(frozen=True, eq=False, repr=False)
class Call:
    """One HTTP request the capture server received.

    ``receiver`` is the name of the receiver it reached, or None for a stray call (no
    receiver at its path). ``path`` is the request path as sent, ``relative_path`` the
    part below the receiver's URL (``""`` for the URL itself; the whole path for a stray
    call). ``received_at`` is when its body had been read, on the monotonic clock waits
    use. ``status`` is what the server answered, and ``note`` why, when the answer is not
    the receiver's usual one (a planned failure, a bad signature, a body over the limit).
    """

    receiver: str | None
    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    received_at: float = field(default_factory=time.monotonic)
    relative_path: str = ""
    status: int = 200
    note: str | None = None
    signature: Signature = Signature.UNCHECKED
    masked: frozenset[str] = frozenset()
    """Headers (lower case) whose values reports mask besides those whose names are
    secret (:func:`asyncbdd.secrets.is_secret_name`): the receiver's signature header."""

    @cached_property
    def _reading(self) -> JsonReading:
        return read_json(self.body)

    @property
    def json(self) -> Any:
        """The body parsed as JSON, or :data:`~asyncbdd.content.NOT_JSON`."""
        return self._reading.document

    @property
    def json_problem(self) -> str | None:
        """Why a body that may be JSON is not read as JSON (``JSON nested more than 200
        levels deep``); None when it is JSON, or plainly not (text, empty)."""
        return self._reading.problem

    @property
    def text(self) -> str:
        """The body decoded as UTF-8 (undecodable bytes replaced)."""
        return self.body.decode("utf-8", errors="replace")

    @cached_property
    def query_params(self) -> dict[str, list[str]]:
        """The query string's parameters, each with its values in order."""
        return urllib.parse.parse_qs(self.query, keep_blank_values=True)

    def header(self, name: str) -> str | None:
        """The value of header ``name`` (any case); repeated headers joined by ", "."""
        wanted = name.lower()
        values = [value for key, value in self.headers if key.lower() == wanted]
        return ", ".join(values) if values else None

    def shown_header(self, name: str, value: str) -> str:
        """``value`` of header ``name`` as a report may show it: masked if secret."""
        return mask_value(value) if name.lower() in self.masked else mask_named(name, value)

    def shown_headers(self) -> dict[str, str]:
        """Every header as a report may show it, secrets masked."""
        return {name: self.shown_header(name, value) for name, value in self.headers}

    @property
    def shown_query(self) -> str:
        """The query string as a report may show it: secret parameters' values masked."""
        return mask_query(self.query)

    def summary(self, limit: int = 160) -> str:
        """One line for a failure report: method, path below the receiver, query, body."""
        target = self.relative_path + (f"?{self.shown_query}" if self.query else "")
        return shorten(f"{self.method} {target} {self._shown_body()}".replace("  ", " "), limit)

    def _shown_body(self) -> str:
        if not self.body:
            return "(empty body)"
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            return f"({len(self.body)} bytes, not UTF-8 text)"
        return " ".join(text.split())

    def __repr__(self) -> str:
        to = self.receiver if self.receiver is not None else "no receiver"
        return (
            f"<Call {self.summary(120)!r} to {to}, answered {self.status}, "
            f"headers {self.shown_headers()}>"
        )
