"""The one interface every queue and topic implements, and where correlation ids live."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from asyncbdd.config import get_settings
from asyncbdd.errors import AsyncBddError, InvalidInput
from asyncbdd.matching import field_text
from asyncbdd.queues.message import NOT_JSON, Message, read_body

__all__ = [
    "BrokerGone",
    "BrokerUnreachable",
    "Correlation",
    "Queue",
    "QueueNotFound",
    "QueueUnavailable",
]


class QueueUnavailable(AsyncBddError):
    """A broker (an SQS endpoint, Kafka's bootstrap servers) could not be reached."""


class BrokerUnreachable(QueueUnavailable):
    """A broker did not answer (it refused the connection, or took too long): it may
    answer again, so readers keep trying, and a wait that ends without its messages says
    why instead of failing at once.

    ``broker`` names it (``SQS at http://127.0.0.1:5123``), ``reason`` says how it failed
    (``connection refused``), and ``since`` is when it last answered, on the monotonic
    clock (``None``: unknown).
    """

    def __init__(self, message: str, *, broker: str, reason: str, since: float | None = None):
        super().__init__(message)
        self.broker, self.reason, self.since = broker, reason, since


class BrokerGone(QueueUnavailable):
    """The broker a queue was opened on went away for good (the embedded Kafka broker's
    process died), and with it what it held: waiting on it is pointless, so a wait fails
    at once. The queue opens again on a new broker.

    ``at`` is when it went, on the monotonic clock (``None``: unknown).
    """

    def __init__(self, message: str, *, at: float | None = None):
        super().__init__(message)
        self.at = at


class QueueNotFound(AsyncBddError):
    """The broker answered, but the queue a step names does not exist there."""


class Correlation:
    """Where messages carry the scenario's correlation id (setting ``asyncbdd.queues.correlation``).

    * ``attribute:NAME`` -- an SQS message attribute or Kafka header called NAME;
    * ``field:PATH`` -- a field of the JSON body (dotted path, ``meta.correlation_id``);
    * ``off`` -- messages carry none: every message read during a scenario is its own.
    """

    def __init__(self, spec: str) -> None:
        kind, _, name = spec.partition(":")
        if spec != "off" and kind not in ("attribute", "field"):
            raise InvalidInput(
                f"Correlation {spec!r} is not understood; write attribute:NAME, field:PATH "
                "or off (setting asyncbdd.queues.correlation)."
            )
        self.kind = kind
        self.name = name.strip()

    @classmethod
    def from_settings(cls) -> Correlation:
        """The correlation in force (setting ``asyncbdd.queues.correlation``)."""
        return cls(get_settings().queues_correlation)

    @property
    def enabled(self) -> bool:
        """Whether messages are attributed to scenarios by their correlation id."""
        return self.kind != "off"

    def read(self, attributes: Mapping[str, str], body: str) -> str | None:
        """The correlation id of a message with these attributes and this body."""
        if self.kind == "field":
            return self.find(attributes, read_body(body).document)
        return self.find(attributes, NOT_JSON)

    def find(self, attributes: Mapping[str, str], document: Any) -> str | None:
        """The correlation id of a message with these attributes and this parsed body
        (:data:`NOT_JSON` for one that is not JSON)."""
        if self.kind == "attribute":
            return attributes.get(self.name)
        if self.kind == "field" and document is not NOT_JSON:
            return field_text(document, self.name)
        return None

    def stamp(
        self, body: Any, attributes: dict[str, str], correlation_id: str
    ) -> tuple[Any, dict[str, str]]:
        """``body`` and ``attributes`` carrying ``correlation_id`` unless they have one."""
        if self.kind == "attribute":
            attributes = {self.name: correlation_id, **attributes}
        elif self.kind == "field" and isinstance(body, dict):
            *parents, last = self.name.split(".")
            target: Any = body
            for parent in parents:
                if not isinstance(target, dict):
                    break  # a parent that is no object cannot hold the field
                target = target.setdefault(parent, {})
            if isinstance(target, dict):
                target.setdefault(last, correlation_id)
        return body, attributes

    def __str__(self) -> str:
        if self.kind == "attribute":
            return f"attribute/header {self.name!r}"
        if self.kind == "field":
            return f"body field {self.name!r}"
        return "off"


class Queue(ABC):
    """An SQS queue or Kafka topic, read and written through one interface.

    :meth:`receive` returns what arrived, blocking at most ``wait`` seconds for it (never
    sleeping: SQS long-polls, Kafka blocks in ``poll``). The reader that calls it then
    :meth:`delete`\\ s what it keeps and :meth:`release`\\ s what belongs to others.
    """

    kind = "queue"
    """What it is, for messages: "SQS queue", "Kafka topic"."""
    noun = "queue"
    """What features call it: "the billing queue", "the "orders" topic" (one of
    :data:`~asyncbdd.queues.transports.NOUNS`)."""
    read_from_scenario_start = False
    """Whether a reader must run from the start of every scenario: true where a reader
    started later would miss what was sent before (Kafka readers start at the end)."""
    reads_exclusively = False
    """Whether a message one reader received is hidden from every other reader until it is
    deleted or released (SQS): others' messages must then be given back."""
    holds_copies = False
    """Whether every message it holds is a copy for this run alone (a tap queue): others'
    are then deleted when read, never given back."""
    hides_received_for: float | None = None
    """Seconds a received message stays hidden from every reader unless deleted or
    released first (SQS: the visibility timeout its receives ask for); ``None`` where
    receiving hides nothing."""

    def __init__(self, alias: str, correlation: Correlation | None = None) -> None:
        self.alias = alias
        self.correlation = correlation or Correlation.from_settings()

    @abstractmethod
    def describe(self) -> str:
        """Where it lives, for messages: ``SQS queue 'billing' at http://127.0.0.1:5123``."""

    @abstractmethod
    def open(self) -> None:
        """Connect and check the queue exists; raise :class:`QueueUnavailable` or
        :class:`QueueNotFound` (within the ``asyncbdd.connect_timeout`` setting) if not."""

    @abstractmethod
    def receive(self, wait: float) -> list[Message]:
        """Messages that arrived, waiting up to ``wait`` seconds for the first."""

    def delete(self, messages: Sequence[Message]) -> None:
        """Remove consumed messages so that nobody receives them again (SQS)."""
        return  # Kafka keeps records; readers just move past them

    def release(self, messages: Sequence[Message], hide_for: int) -> None:
        """Give messages back to the queue, visible again after ``hide_for`` seconds (SQS)."""
        return  # every Kafka reader sees every record anyway

    @abstractmethod
    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        """Send one message; it has reached the broker when this returns."""

    def close(self) -> None:
        """Release connections; the queue may be opened again later."""
        return

    def backlog(self) -> int | None:
        """About how many messages wait to be received now, if the broker says (SQS)."""
        return None

    def problems(self) -> str | None:
        """Something to tell a user whose wait on this queue timed out, if anything."""
        return None

    def broker(self) -> str:
        """The broker it lives on, for messages: ``SQS at http://127.0.0.1:5123``."""
        return self.describe()

    def gone(self) -> BrokerGone | None:
        """Why the broker it was opened on is gone for good, if it is: a reader of it must
        stop, and :meth:`open` be called again, which opens it on a new broker (releasing
        what the dead one left)."""
        return None

    def longest_call(self) -> float:
        """The longest one call to its broker (a receive, a send) may block, in seconds,
        when the broker does not answer: how long stopping a reader may take."""
        return get_settings().connect_timeout

    def message(self, body: str | bytes, attributes: Mapping[str, str], **details: Any) -> Message:
        """A :class:`Message` read from this queue, ``body`` as received (bytes are UTF-8).

        Reading it never raises, whatever the body: one that cannot be read (see
        :func:`~asyncbdd.queues.message.read_body`; with correlation in a body field, also
        one that is not JSON) gets a :attr:`~Message.problem` instead, and no
        correlation id unless an attribute/header carries it.
        """
        reading = read_body(body)
        text = body if isinstance(body, str) else body.decode("utf-8", "replace")
        unreadable = reading.unreadable or (self.correlation.kind == "field" and bool(reading.why))
        return Message(
            queue=self.alias,
            body=text,
            attributes=attributes,
            correlation_id=self.correlation.find(attributes, reading.document),
            problem=reading.why if unreadable else None,
            **details,
        )

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias!r}: {self.describe()}>"
