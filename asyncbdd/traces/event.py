"""One event of a trace, as every trace store reports it.

Stores read events in many shapes: a table row, a Kafka message, a JSON document, an
OpenTelemetry span. :func:`make_event` turns the raw values into a :class:`TraceEvent`
with one type per field, so the checks never guess:

* ``timestamp`` is an aware :class:`~datetime.datetime`: a naive one (or ISO text without
  an offset) is read as UTC, a number as seconds since the epoch;
* ``sequence`` is an ``int`` (digits in text are accepted);
* ``attributes`` is a dict: JSON text is parsed, and anything that is not an object is
  kept under the key ``"value"``.

A value that cannot be read raises :class:`~asyncbdd.errors.InvalidInput` naming the
event and where it came from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from asyncbdd.errors import InvalidInput
from asyncbdd.matching import show_value

__all__ = ["TraceEvent", "make_event"]


@dataclass(frozen=True)
class TraceEvent:
    """Something a service recorded doing for one correlation id."""

    type: str
    """What happened: ``payment.completed``."""
    service: str | None = None
    """Which service did it: ``payments``."""
    timestamp: datetime | None = None
    """When it happened (timezone-aware), if the store records it."""
    sequence: int | None = None
    """Its place in the correlation id's chain (1, 2, 3 ...), if the store records it."""
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    """Whatever else the event carries (``order_id``, ``amount``); not part of the hash."""
    source: str = ""
    """Where it was read: ``table trace_events, id 17``; for failure messages."""

    def __str__(self) -> str:
        sequence = f" #{self.sequence}" if self.sequence is not None else ""
        service = f" ({self.service})" if self.service else ""
        return f"{self.type}{sequence}{service}"


def make_event(
    *,
    type: object,
    service: object = None,
    timestamp: object = None,
    sequence: object = None,
    attributes: object = None,
    source: str,
) -> TraceEvent:
    """A :class:`TraceEvent` from raw values, each read as the module docstring says.

    :raises InvalidInput: the type is missing, or a timestamp, sequence or attributes
        value cannot be read; the message names ``source``.
    """
    if type is None or (isinstance(type, str) and not type.strip()):
        raise InvalidInput(
            f"The trace event at {source} has no event type. Check the store's type "
            "column or field name."
        )
    return TraceEvent(
        type=str(type).strip(),
        service=None if service is None else str(service),
        timestamp=_timestamp(timestamp, source),
        sequence=_sequence(sequence, source),
        attributes=_attributes(attributes),
        source=source,
    )


def _timestamp(value: object, source: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):  # Python 3.10 reads only "+00:00"
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInput(
                f"The timestamp {show_value(value)} of the trace event at {source} is not "
                "an ISO 8601 date and time (2024-05-01T10:30:00.123+00:00)."
            ) from None
    elif isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        moment = datetime.fromtimestamp(float(value), timezone.utc)
    else:
        raise InvalidInput(
            f"The timestamp {show_value(value)} of the trace event at {source} is neither a "
            "date and time, ISO 8601 text, nor seconds since the epoch."
        )
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _sequence(value: object, source: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, (float, Decimal)) and value % 1 == 0:
        return int(value)  # a JSON number such as 3.0, or a NUMERIC column's Decimal
    raise InvalidInput(
        f"The sequence {show_value(value)} of the trace event at {source} is not a whole "
        "number; the sequence numbers an event's place in its chain (1, 2, 3 ...)."
    )


def _attributes(value: object) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return {"value": value}
    if isinstance(value, Mapping):
        return {str(name): item for name, item in value.items()}
    return {"value": value}
