"""A message as asyncbdd records it, whatever queue or topic it came from."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from asyncbdd.content import NOT_JSON, parse_body
from asyncbdd.matching import shorten

__all__ = ["NOT_JSON", "Message", "parse_body"]


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

    @cached_property
    def json(self) -> Any:
        """The body parsed as JSON, or :data:`NOT_JSON`."""
        return parse_body(self.body)

    def summary(self, limit: int = 160) -> str:
        """One line for a failure report: key, correlation id and the body, shortened."""
        parts = []
        if self.key is not None:
            parts.append(f"key={self.key}")
        if self.correlation_id is not None:
            parts.append(f"correlation_id={self.correlation_id}")
        body = " ".join(self.body.split())
        parts.append(body if body else "(empty body)")
        return shorten(" ".join(parts), limit)
