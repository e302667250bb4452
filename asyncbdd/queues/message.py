"""A message as asyncbdd records it, whatever queue or topic it came from, and how its
body is read.

Every body is read by :func:`read_body`, which never raises: a body that is not UTF-8,
is nested deeper than :data:`MAX_DEPTH` or is too large to parse is a *poison* message,
reported with the reason rather than failing the batch it was read with.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

from asyncbdd.content import MAX_JSON_DEPTH, NOT_JSON, read_json
from asyncbdd.matching import shorten

__all__ = ["MAX_DEPTH", "NOT_JSON", "BodyReading", "Message", "parse_body", "read_body"]

MAX_DEPTH = MAX_JSON_DEPTH
"""The deepest nesting of arrays and objects a body may have to be read as JSON (the
same limit as webhook bodies: see :data:`asyncbdd.content.MAX_JSON_DEPTH`)."""


class BodyReading(NamedTuple):
    """What :func:`read_body` made of a body."""

    document: Any
    """The body parsed as JSON, or :data:`NOT_JSON`."""
    why: str | None
    """Why it is not JSON (``None`` when it is): ``not JSON: Expecting value ...``."""
    unreadable: bool
    """Whether that makes it a poison message whatever the correlation setting: not UTF-8,
    nested too deep or too large to parse (plain text is not JSON, but readable)."""


def read_body(body: str | bytes) -> BodyReading:
    """``body`` parsed as JSON, or why it is not; never raises."""
    text, why = _decoded(body)
    if why is not None:
        return BodyReading(NOT_JSON, why, True)
    if not text.strip():
        return BodyReading(NOT_JSON, "not JSON: the body is empty", False)
    document, problem = read_json(text)  # linear depth check first: never a RecursionError
    if problem is not None:
        return BodyReading(NOT_JSON, problem, True)
    if document is NOT_JSON:
        return BodyReading(NOT_JSON, f"not JSON: {_json_error(text)}", False)
    return BodyReading(document, None, False)


def parse_body(body: str | bytes) -> Any:
    """``body`` parsed as JSON, or :data:`NOT_JSON` (see :func:`read_body`)."""
    return read_body(body).document


def _decoded(body: str | bytes) -> tuple[str, str | None]:
    """``body`` as text, and why it is not UTF-8 (``None`` when it is)."""
    if isinstance(body, str):
        return body, None
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as error:
        return "", f"not UTF-8: {error.reason} at byte {error.start}"


def _json_error(text: str) -> str:
    """What json says of ``text``, known to be shallow and not JSON."""
    try:
        json.loads(text)
    except ValueError as error:
        return str(error)
    return "unreadable"


@dataclass(frozen=True, eq=False)
class Message:
    """One message received from an SQS queue or a Kafka topic.

    ``attributes`` are SQS message attributes or Kafka headers, as text. ``sent_at`` is
    the broker's timestamp (seconds since the epoch); ``received_at`` is when asyncbdd
    read it, on the monotonic clock that waits use.
    """

    queue: str
    """The alias the message was read through (``billing``)."""
    body: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    key: str | None = None
    """The Kafka record key (``None`` for SQS)."""
    message_id: str = ""
    """SQS's MessageId, or ``topic/partition@offset`` for Kafka."""
    correlation_id: str | None = None
    """The correlation id the message carries, where the correlation setting says."""
    sent_at: float | None = None
    received_at: float = field(default_factory=time.monotonic)
    receipt: Any = field(default=None, repr=False)
    """What the queue needs to delete or release the message (an SQS receipt handle)."""
    problem: str | None = None
    """Why the body could not be read, set by the queue that read it: not UTF-8 (``body``
    then shows the bad bytes as U+FFFD), nested too deep, too large, or -- with the
    correlation id in a body field -- not JSON. Such a body is :data:`NOT_JSON`."""

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON, or :data:`NOT_JSON`."""
        return NOT_JSON if self.problem is not None else parse_body(self.body)

    def summary(self, limit: int = 160) -> str:
        """One line for a failure report: key, correlation id and the body, shortened."""
        parts = []
        if self.key is not None:
            parts.append(f"key={self.key}")
        if self.correlation_id is not None:
            parts.append(f"correlation_id={self.correlation_id}")
        if self.problem is not None:
            parts.append(f"(body not JSON: {self.problem})")
        body = " ".join(self.body.split())
        parts.append(body if body else "(empty body)")
        return shorten(" ".join(parts), limit)
