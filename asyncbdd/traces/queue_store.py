"""Trace events published as messages: one JSON message per event on a queue or topic.

::

    QueueTraceStore("traces")                          # any alias of asyncbdd.queues
    QueueTraceStore("audit", type_field="header:event_type", sequence_field="meta.seq")

The events of a scenario are the messages of the alias that :mod:`asyncbdd.queues`
attributes to it by their correlation id (setting ``asyncbdd.queues.correlation``): the
queue is read in the background (a topic from the start of every scenario), so no event is
missed and none of another scenario's is counted. Reading waits on the scenario's inbox,
so a check sees a new event the moment it arrives rather than at the next poll.

Each field is a dotted path into the JSON body (``meta.seq``), ``header:NAME`` for a
message attribute or header, or ``None`` when the messages do not carry it.
``correlation_field`` selects events by a body field too: needed only to read another
correlation id than the scenario's, or when queue correlation is ``off``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from typing import Any

from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.matching import MISSING, field_value, show_value
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.inbox import Inbox, inbox, start_reader
from asyncbdd.queues.message import NOT_JSON, Message
from asyncbdd.traces.event import TraceEvent, make_event
from asyncbdd.traces.store import TraceStore

__all__ = ["KafkaTraceStore", "QueueTraceStore"]


class QueueTraceStore(TraceStore):
    """The messages of a queue alias, read as trace events.

    :param alias: a queue or topic alias of :mod:`asyncbdd.queues`.
    :param type_field: where the event type is (required).
    :param service_field: where the service is, or ``None``.
    :param timestamp_field: where the time of the event is, or ``None``.
    :param sequence_field: where the sequence number is, or ``None``.
    :param attributes_field: where the other attributes are, or ``None``.
    :param correlation_field: a body path whose value must equal the correlation id.
    :param order_by: ``"sequence"`` or ``"timestamp"``; default: the setting.
    """

    def __init__(
        self,
        alias: str,
        *,
        type_field: str = "event_type",
        service_field: str | None = "service",
        timestamp_field: str | None = "occurred_at",
        sequence_field: str | None = "sequence",
        attributes_field: str | None = "attributes",
        correlation_field: str | None = None,
        order_by: str | None = None,
    ) -> None:
        self.alias = alias
        self.fields: Mapping[str, str | None] = {
            "type": type_field,
            "service": service_field,
            "timestamp": timestamp_field,
            "sequence": sequence_field,
            "attributes": attributes_field,
        }
        self.correlation_field = correlation_field
        self.order_by = order_by
        self._seen: tuple[int, int] = (0, 0)
        """(id of the inbox, number of its messages) at the last read, for :meth:`pause`."""
        self._lock = threading.Lock()

    def events(self, correlation_id: str) -> list[TraceEvent]:
        box = self._inbox()
        with box.changed:
            messages = box.messages[self.alias][:]
            error = box.errors.get(self.alias)
        if error is not None:
            if isinstance(error, AsyncBddError):
                raise error
            raise AsyncBddError(f"Reading {self.describe()} failed: {error!r}") from error
        with self._lock:
            self._seen = (id(box), len(messages))
        if self.correlation_field is not None:
            messages = [
                message
                for message in messages
                if _read(message, self.correlation_field) == correlation_id
            ]
        elif correlation_id != box.correlation_id:
            raise InvalidInput(
                f"{self.describe()} holds the trace events of the running scenario only "
                f"(correlation id {box.correlation_id}), not of {correlation_id}. To read "
                "another correlation id, give QueueTraceStore the body field that carries "
                "it: correlation_field='correlation_id'."
            )
        return [self._event(message) for message in messages]

    def describe(self) -> str:
        try:
            return f"{queue_named(self.alias).describe()} (alias {self.alias!r})"
        except AsyncBddError:
            return f"queue alias {self.alias!r}"

    def pause(self, seconds: float) -> None:
        box = self._inbox()
        with self._lock:
            seen = self._seen

        def news() -> bool:
            count = len(box.messages[self.alias])
            return (id(box), count) != seen or self.alias in box.errors

        box.wait(news, seconds)

    def _inbox(self) -> Inbox:
        box = inbox()
        start_reader(queue_named(self.alias))  # at once if it reads already
        return box

    def _event(self, message: Message) -> TraceEvent:
        source = f"{self.alias} message {message.message_id}"
        if message.json is NOT_JSON and any(
            spec and not spec.startswith("header:") for spec in self.fields.values()
        ):
            raise InvalidInput(
                f"The trace event {source} is not JSON: {show_value(message.body, 120)}. "
                "Trace events on a queue or topic are JSON documents."
            )
        values = {name: _read(message, spec) for name, spec in self.fields.items()}
        return make_event(
            type=values["type"],
            service=values["service"],
            timestamp=values["timestamp"],
            sequence=values["sequence"],
            attributes=values["attributes"],
            source=source,
        )


def _read(message: Message, spec: str | None) -> object:
    """The value ``spec`` names in ``message``, or ``None``."""
    if spec is None:
        return None
    if spec.startswith("header:"):
        return message.attributes.get(spec.removeprefix("header:"))
    if message.json is NOT_JSON:
        return None
    value = field_value(message.json, spec)
    return None if value is MISSING else value


class KafkaTraceStore(QueueTraceStore):
    """Deprecated name of :class:`QueueTraceStore`, which reads any queue alias."""

    def __init__(self, alias: str, **fields: Any) -> None:
        warnings.warn(
            "KafkaTraceStore is now QueueTraceStore (it reads any queue alias); the old name "
            "goes in the next release.",
            DeprecationWarning,
            stacklevel=2,
        )
        super().__init__(alias, **fields)
