"""NATS subjects and JetStream streams through nats-py, read as messages come (the
client's callback hands them over), and the ``nats`` transport's registration.

Two alias forms:

* ``nats:subject/SUBJECT`` -- a core NATS subject, wildcards ``*`` and ``>`` allowed
  (``nats:subject/orders.*``). asyncbdd subscribes when the reader opens, at the start of
  the first scenario, never in a queue group: every plain subscriber gets its own copy, so
  reading takes nothing from the service's subscribers or queue groups. Core NATS keeps
  nothing: a message published before asyncbdd subscribed, or while its connection is
  lost, never reaches it (a wait that fails says so).
* ``nats:stream/STREAM`` and ``nats:stream/STREAM/FILTER`` -- a JetStream stream, all of
  it or the subjects a filter matches (``nats:stream/ORDERS/orders.created``). asyncbdd
  reads it with an ephemeral ordered consumer of its own (no acknowledgements, memory
  storage, deleted when the queue closes), starting after the stream's last message when
  the reader opens; a reader whose connection was lost resumes where it stopped, so
  nothing published meanwhile is missed. The service's consumers are never touched. A
  work-queue stream is refused: there, a message delivered to any consumer is gone.

A message's NATS headers are its attributes, so the ``correlation_id`` header names its
scenario (or a field of its JSON body: ``asyncbdd.queues.correlation``). Sending publishes
the attributes as headers: a core publish followed by a round trip to the server on a
subject, a JetStream publish, acknowledged by the stream, on a stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, NamedTuple

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy, RetentionPolicy, StreamInfo

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration
from asyncbdd.errors import ConfigurationError, InvalidInput, suggest
from asyncbdd.queues.base import BrokerUnreachable, Correlation, Queue, QueueNotFound
from asyncbdd.queues.message import Message
from asyncbdd.queues.nats_connection import (
    OPTIONS,
    NatsConnection,
    ServerAddress,
    describe_error,
    headers_of,
    send_headers,
    shown_url,
)
from asyncbdd.queues.transports import Transport, register_transport, transport_options

__all__ = ["NatsStream", "NatsSubject"]

BATCH = 500
"""Most messages one read hands over."""
PROBE_EVERY = 1.0
"""Seconds without news from the server (a message, an answer) after which a read that
brought nothing pings it, to tell a quiet subject from a server that stopped answering."""
PROBE_WAIT = 0.5
"""How long that ping may wait for its answer (a server answers in milliseconds)."""
INACTIVE_THRESHOLD = 30.0
"""Seconds after which the server deletes asyncbdd's consumer of a stream once nobody
reads it (when a run ends without closing it: a killed process)."""
FORMS = (
    "nats:subject/SUBJECT (wildcards * and >, e.g. nats:subject/orders.*), "
    "nats:stream/STREAM, nats:stream/STREAM/FILTER-SUBJECT"
)


class _Delivery(NamedTuple):
    received_at: float
    message: Msg


class _NatsQueue(Queue):
    """What subjects and streams share: one connection for reading and sending, made again
    when lost, and a subscription whose callback fills a queue that :meth:`receive` blocks
    on."""

    read_from_scenario_start = True

    def __init__(
        self, alias: str, *, url: str | None = None, correlation: Correlation | None = None
    ) -> None:
        super().__init__(alias, correlation)
        options = transport_options("nats")
        text = url or str(options["url"])
        try:
            self.address = ServerAddress.parse(text, str(options["token"]) or None)
        except ValueError as error:
            raise ConfigurationError(
                f"The NATS server URL {shown_url(text)!r} (setting asyncbdd.nats.url, alias "
                f"{alias!r}) is invalid: {error}."
            ) from None
        self._deliveries: queue.Queue[list[_Delivery] | None] = queue.Queue()
        """What the subscription's callback received, handed over in batches; ``None``
        wakes a read when the connection is lost."""
        self._arriving: list[_Delivery] = []
        """What the callback received since the last hand-over (touched on the event
        loop's thread only)."""
        self._connection: NatsConnection | None = None
        """The connection sending and reading use, while it is not lost."""
        self._reading_on: NatsConnection | None = None
        """The connection the subscription lives on, while there is one."""
        self._subscription: Subscription | None = None
        self._answered_at = time.monotonic()
        self._lost_at: float | None = None
        """When the subscription was lost, while it is."""
        self._last_gap: tuple[float, float] | None = None
        """When the latest lost subscription was lost and made again."""
        self._count = 0
        self._lock = threading.Lock()
        self._connecting = threading.Lock()

    @property
    @abstractmethod
    def what(self) -> str:
        """What it is, in messages: ``the NATS subject 'orders.*'``."""

    def broker(self) -> str:
        return str(self.address)

    def longest_call(self) -> float:
        # waiting for another thread's connect, connecting, subscribing; then a ping
        return 3 * get_settings().connect_timeout + PROBE_WAIT

    def open(self) -> None:
        """Connect and subscribe, and wait (the connect timeout for each) until the server
        confirmed: what is published from then on is received."""
        self._stop_reading()
        connection = self._live_connection()
        self._subscription = self._subscribe(connection)
        now = time.monotonic()
        with self._lock:
            self._reading_on = connection
            self._answered_at = now
            if self._lost_at is not None:
                self._last_gap, self._lost_at = (self._lost_at, now), None

    def receive(self, wait: float) -> list[Message]:
        connection = self._reading_on
        if connection is None:
            self.open()
            connection = self._reading_on
            assert connection is not None
        deliveries: list[_Delivery] = []
        if not (connection.lost and self._deliveries.empty()):
            deliveries = self._take(wait)
        if deliveries:
            self._answered_at = deliveries[-1].received_at
        elif connection.lost:
            self._lose_reading(connection)
            raise connection.unreachable("read from", connection.lost_reason or "")
        elif time.monotonic() - self._answered_at >= PROBE_EVERY:
            try:
                connection.ping(PROBE_WAIT)
            except BrokerUnreachable:
                self._lose_reading(connection)
                raise
            self._answered_at = time.monotonic()
        return [self._message(delivery) for delivery in deliveries]

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        if key is not None:
            raise InvalidInput(
                f"NATS messages have no key; send {self.what} (alias {self.alias!r}) a "
                "message without one, or put it in the body or an attribute (a header)."
            )
        connection = self._live_connection()
        subject = self._subject_to_send_to(connection)
        try:
            self._publish(connection, subject, body.encode(), send_headers(attributes))
        except (nats.errors.Error, OSError) as error:
            raise connection.failed("publish to", error) from None

    def close(self) -> None:
        """Stop reading (deleting a stream's consumer) and close the connection; opening
        it again subscribes anew, from then on."""
        self._stop_reading()
        with self._lock:
            connection, self._connection = self._connection, None
            self._lost_at = self._last_gap = None
        if connection is not None:
            connection.close()
        while not self._deliveries.empty():
            self._deliveries.get_nowait()

    def problems(self) -> str | None:
        found = [self._gap_problem(time.monotonic())]
        connection = self._reading_on
        if connection is not None and connection.problems:
            found.append(f"the NATS client reported: {'; '.join(connection.problems[-3:])}")
        return "; ".join(problem for problem in found if problem) or None

    @abstractmethod
    def _subscribe(self, connection: NatsConnection) -> Subscription:
        """Subscribe on ``connection``, handing messages to :meth:`_arrived`; return once
        the server confirmed."""

    @abstractmethod
    def _subject_to_send_to(self, connection: NatsConnection) -> str:
        """The subject a message sent to it is published on."""

    @abstractmethod
    def _publish(
        self, connection: NatsConnection, subject: str, body: bytes, headers: dict[str, str] | None
    ) -> None:
        """Publish, returning once the server has the message."""

    @abstractmethod
    def _message_details(self, message: Msg) -> dict[str, Any]:
        """``message_id`` and what else :meth:`Queue.message` records of it."""

    @abstractmethod
    def _gap_problem(self, now: float) -> str | None:
        """What a lost connection means for what reached asyncbdd, if it was lost."""

    async def _arrived(self, message: Msg) -> None:
        # Handed over once the loop has run every callback due now (the rest of what one
        # read from the socket brought): a reader woken per message would sort them one
        # by one, and waking its waiters for each costs more than the message.
        if not self._arriving:
            asyncio.get_running_loop().call_soon(self._hand_over)
        self._arriving.append(_Delivery(time.monotonic(), message))

    def _hand_over(self) -> None:
        arrived, self._arriving = self._arriving, []
        if arrived:
            self._deliveries.put(arrived)

    def _connection_lost(self) -> None:
        self._hand_over()  # what arrived before the loss first
        self._deliveries.put(None)

    def _message(self, delivery: _Delivery) -> Message:
        raw = delivery.message
        return self.message(
            raw.data,
            headers_of(raw),
            received_at=delivery.received_at,
            **self._message_details(raw),
        )

    def _take(self, wait: float) -> list[_Delivery]:
        """What arrived, waiting up to ``wait`` seconds for the first."""
        taken: list[_Delivery] = []
        try:
            item = self._deliveries.get(timeout=wait) if wait > 0 else self._deliveries.get_nowait()
            while True:
                if item is not None:
                    taken += item
                if len(taken) >= BATCH:
                    break
                item = self._deliveries.get_nowait()
        except queue.Empty:
            pass
        return taken

    def _live_connection(self) -> NatsConnection:
        """The connection, made afresh if there is none or it was lost."""
        with self._connecting:
            with self._lock:
                connection = self._connection
            if connection is not None and not connection.lost:
                return connection
            fresh = NatsConnection(
                self.address,
                what=self.what,
                alias=self.alias,
                on_lost=self._connection_lost,
            )
            fresh.connect()
            with self._lock:
                self._connection = fresh
            if connection is not None and connection is not self._reading_on:
                connection.close()  # the reader closes its own when it finds it lost
            return fresh

    def _lose_reading(self, connection: NatsConnection) -> None:
        """Forget a subscription whose connection was lost: the next read makes it again."""
        with self._lock:
            if self._reading_on is connection:
                self._reading_on, self._subscription = None, None
            if self._lost_at is None:
                self._lost_at = time.monotonic()
            if self._connection is connection:
                self._connection = None
        connection.close()

    def _stop_reading(self) -> None:
        with self._lock:
            connection, self._reading_on = self._reading_on, None
            subscription, self._subscription = self._subscription, None
        if connection is None or subscription is None or connection.lost:
            return
        # On failure the server forgets it with the connection, which closes next.
        with contextlib.suppress(Exception):
            connection.call(
                self._unsubscribed(connection, subscription),
                get_settings().connect_timeout,
                "unsubscribe from",
            )

    async def _unsubscribed(self, connection: NatsConnection, subscription: Subscription) -> None:
        await subscription.unsubscribe()


class NatsSubject(_NatsQueue):
    """A core NATS subject or wildcard subject, subscribed to when opened.

    ``url`` defaults to the setting ``asyncbdd.nats.url``. Raises
    :class:`~asyncbdd.errors.ConfigurationError` for a malformed subject.
    """

    kind = "NATS subject"
    noun = "subject"

    def __init__(
        self,
        alias: str,
        subject: str,
        *,
        url: str | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        self.subject = _checked_subject(alias, f"subject/{subject}", subject)
        super().__init__(alias, url=url, correlation=correlation)
        self.wildcard = _has_wildcard(subject)

    @property
    def what(self) -> str:
        return f"the NATS subject {self.subject!r}"

    def describe(self) -> str:
        return f"NATS subject {self.subject!r} at {self.address.shown}"

    def _subscribe(self, connection: NatsConnection) -> Subscription:
        seconds = get_settings().connect_timeout

        async def subscribed() -> Subscription:
            subscription = await connection.client.subscribe(self.subject, cb=self._arrived)
            await connection.client.flush(timeout=seconds)  # type: ignore[arg-type]
            return subscription

        try:
            return connection.call(subscribed(), seconds, "subscribe to")
        except nats.errors.Error as error:
            raise connection.failed("subscribe to", error) from None

    def _subject_to_send_to(self, connection: NatsConnection) -> str:
        if self.wildcard:
            raise InvalidInput(
                f"The alias {self.alias!r} names a NATS wildcard subject, {self.subject!r}, "
                "which cannot be published to: name one subject (nats:subject/SUBJECT, no * "
                "or >) in an alias of its own to send to it."
            )
        return self.subject

    def _publish(
        self, connection: NatsConnection, subject: str, body: bytes, headers: dict[str, str] | None
    ) -> None:
        seconds = get_settings().connect_timeout

        async def published() -> None:
            await connection.client.publish(subject, body, headers=headers)
            await connection.client.flush(timeout=seconds)  # type: ignore[arg-type]

        connection.call(published(), seconds, "publish to")

    def _message_details(self, message: Msg) -> dict[str, Any]:
        self._count += 1
        return {"message_id": f"{message.subject}#{self._count}"}

    def _gap_problem(self, now: float) -> str | None:
        if self._lost_at is not None:
            return (
                f"the connection was lost {format_duration(now - self._lost_at)} ago and is "
                "not made again yet: what is published on the subject meanwhile never "
                "reaches asyncbdd (core NATS keeps nothing)"
            )
        if self._last_gap is not None:
            lost, made = self._last_gap
            return (
                f"the connection was lost for {format_duration(made - lost)}, "
                f"{format_duration(now - made)} ago: what was published on the subject then "
                "never reached asyncbdd (core NATS keeps nothing)"
            )
        return None


class NatsStream(_NatsQueue):
    """A JetStream stream, or the subjects of it a filter matches, read from after its
    last message as it was when opened.

    ``url`` defaults to the setting ``asyncbdd.nats.url``. Raises
    :class:`~asyncbdd.errors.ConfigurationError` for a malformed stream name or filter.
    """

    kind = "NATS JetStream stream"
    noun = "stream"

    def __init__(
        self,
        alias: str,
        stream: str,
        filter_subject: str | None = None,
        *,
        url: str | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        spec = f"stream/{stream}" + (f"/{filter_subject}" if filter_subject is not None else "")
        self.stream = _checked_stream(alias, spec, stream)
        self.filter_subject = (
            None if filter_subject is None else _checked_subject(alias, spec, filter_subject)
        )
        super().__init__(alias, url=url, correlation=correlation)
        self._next_sequence: int | None = None
        """The stream sequence to read from when subscribing again."""
        self._subjects: list[str] | None = None
        """The stream's subjects, once looked up."""

    @property
    def what(self) -> str:
        return f"the NATS stream {self.stream!r}"

    def describe(self) -> str:
        subjects = f" (subjects {self.filter_subject!r})" if self.filter_subject else ""
        return f"NATS JetStream stream {self.stream!r}{subjects} at {self.address.shown}"

    def close(self) -> None:
        super().close()
        self._next_sequence = None

    def _subscribe(self, connection: NatsConnection) -> Subscription:
        info = self._info(connection)
        if info.config.retention == RetentionPolicy.WORK_QUEUE:
            raise ConfigurationError(
                f"The NATS stream {self.stream!r} (alias {self.alias!r}) keeps its messages "
                "as a work queue: a message delivered to any consumer is removed, so reading "
                "it would take messages away from the service's consumers. Read the subjects "
                "the service publishes on instead (nats:subject/SUBJECT), or a stream that "
                "mirrors this one."
            )
        start = self._next_sequence or info.state.last_seq + 1
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            description=f"asyncbdd reader of alias {self.alias} (ephemeral, no acks)",
            inactive_threshold=INACTIVE_THRESHOLD,
        )
        seconds = get_settings().connect_timeout
        subscribe = connection.jetstream().subscribe(
            self.filter_subject or "",
            stream=self.stream,
            cb=self._arrived,
            ordered_consumer=True,
            config=config,
        )
        try:
            subscription = connection.call(subscribe, seconds, "subscribe to")
        except nats.js.errors.BadRequestError as error:
            raise ConfigurationError(
                f"The NATS stream {self.stream!r} (alias {self.alias!r}) cannot be read with "
                f"the filter {self.filter_subject!r}: {describe_error(error)}. Its subjects "
                f"are {', '.join(info.config.subjects or [])}; write a filter within them "
                f"(nats:stream/{self.stream}/SUBJECT)."
            ) from None
        except nats.errors.Error as error:
            raise connection.failed("subscribe to", error) from None
        self._next_sequence = start
        return subscription

    async def _unsubscribed(self, connection: NatsConnection, subscription: Subscription) -> None:
        consumer = None
        with contextlib.suppress(nats.errors.Error):  # gone already: nothing to delete
            consumer = (await subscription.consumer_info()).name  # type: ignore[attr-defined]
        await subscription.unsubscribe()
        if consumer is not None:
            await connection.jetstream().delete_consumer(self.stream, consumer)

    def _info(self, connection: NatsConnection) -> StreamInfo:
        """The stream's info; :class:`QueueNotFound` naming it if it does not exist."""
        seconds = get_settings().connect_timeout
        try:
            info = connection.call(
                connection.jetstream().stream_info(self.stream), seconds, "look up"
            )
        except nats.js.errors.NotFoundError:
            known = self._stream_names(connection)
            hint = suggest(self.stream, known)
            raise QueueNotFound(
                f"The NATS server at {self.address.shown} has no JetStream stream "
                f"{self.stream!r} (alias {self.alias!r})."
                + (f" Did you mean {hint!r}?" if hint else "")
                + (f" Its streams: {', '.join(known)}." if known else " It has no streams.")
                + " Create it (nats stream add) or correct the alias (asyncbdd.queues)."
            ) from None
        except (nats.errors.NoRespondersError, nats.js.errors.ServiceUnavailableError):
            raise ConfigurationError(
                f"The NATS server at {self.address.shown} does not answer JetStream requests, "
                f"so the stream {self.stream!r} (alias {self.alias!r}) cannot be read: "
                "start it with JetStream enabled (nats-server -js), or read a subject "
                "(nats:subject/SUBJECT)."
            ) from None
        except nats.errors.Error as error:
            raise connection.failed("look up", error) from None
        self._subjects = list(info.config.subjects or [])
        return info

    def _stream_names(self, connection: NatsConnection) -> list[str]:
        """The server's stream names, if it says within the connect timeout."""
        try:
            names = connection.call(
                connection.jetstream().streams_info(), get_settings().connect_timeout, "list"
            )
        except (BrokerUnreachable, nats.errors.Error):
            return []
        return sorted(info.config.name for info in names if info.config.name)

    def _subject_to_send_to(self, connection: NatsConnection) -> str:
        if self.filter_subject is not None and not _has_wildcard(self.filter_subject):
            return self.filter_subject
        if self.filter_subject is None:
            if self._subjects is None:
                self._info(connection)
            subjects = self._subjects or []
            if len(subjects) == 1 and not _has_wildcard(subjects[0]):
                return subjects[0]
        shown = self.filter_subject or ", ".join(self._subjects or [])
        raise InvalidInput(
            f"The alias {self.alias!r} names the NATS stream {self.stream!r} with subjects "
            f"{shown}, so it does not say which subject to publish on: name one "
            f"(nats:stream/{self.stream}/SUBJECT, no * or >) in an alias of its own to send "
            "to it."
        )

    def _publish(
        self, connection: NatsConnection, subject: str, body: bytes, headers: dict[str, str] | None
    ) -> None:
        seconds = get_settings().connect_timeout
        publish = connection.jetstream().publish(
            subject, body, timeout=seconds, stream=self.stream, headers=headers
        )
        try:
            connection.call(publish, seconds, "publish to")
        except nats.errors.NoRespondersError:
            raise InvalidInput(
                f"No JetStream stream stored the message published on {subject!r} for the "
                f"NATS stream {self.stream!r} (alias {self.alias!r}): the stream does not take "
                "that subject, or JetStream is not enabled. Check the stream's subjects."
            ) from None
        except nats.js.errors.APIError as error:
            raise InvalidInput(
                f"The NATS stream {self.stream!r} (alias {self.alias!r}) refused the message "
                f"published on {subject!r}: {describe_error(error)}. Check that the subject is "
                "one of the stream's."
            ) from None

    def _message_details(self, message: Msg) -> dict[str, Any]:
        stream, sequence, sent_at = _stream_position(message)
        self._next_sequence = sequence + 1
        return {"message_id": f"{stream}@{sequence}", "sent_at": sent_at}

    def _gap_problem(self, now: float) -> str | None:
        if self._lost_at is not None:
            return (
                f"the connection was lost {format_duration(now - self._lost_at)} ago and is "
                "not made again yet (the stream keeps what is published meanwhile; asyncbdd "
                "reads it once the server is back)"
            )
        return None


def _stream_position(message: Msg) -> tuple[str, int, float | None]:
    """A stream message's stream, stream sequence and time (seconds since the epoch).

    Read from its reply subject, ``$JS.ACK.STREAM.CONSUMER.DELIVERED.SEQUENCE.CONSUMER-
    SEQUENCE.NANOSECONDS.PENDING`` (with a domain and an account hash after ``ACK`` in
    the newer form): nats-py's ``metadata`` reads the same, but at several times the cost,
    which a drain of thousands of messages pays on the thread that receives them.
    """
    tokens = (message.reply or "").split(".")
    if tokens[:2] == ["$JS", "ACK"] and len(tokens) in (9, 12):
        first = 2 if len(tokens) == 9 else 4
        stream, sequence, nanoseconds = tokens[first], tokens[first + 3], tokens[first + 5]
        if sequence.isdigit() and nanoseconds.isdigit():
            return stream, int(sequence), int(nanoseconds) / 1e9
    metadata = message.metadata
    stamp = metadata.timestamp
    return (
        metadata.stream,
        metadata.sequence.stream,
        stamp.timestamp() if stamp is not None else None,
    )


def _build(alias: str, target: str) -> Queue:
    """The subject or stream ``nats:subject/SUBJECT``, ``nats:stream/STREAM[/FILTER]`` names."""
    kind, slash, rest = target.partition("/")
    if kind == "subject" and slash:
        return NatsSubject(alias, rest)
    if kind == "stream" and slash:
        stream, has_filter, filter_subject = rest.partition("/")
        return NatsStream(alias, stream, filter_subject if has_filter else None)
    raise _refused(alias, target, "it names neither a subject nor a stream")


def _refused(alias: str, target: str, why: str) -> ConfigurationError:
    return ConfigurationError(
        f"Queue alias {alias!r} = 'nats:{target}' is not understood (setting "
        f"asyncbdd.queues): {why}. Write {FORMS}."
    )


def _checked_subject(alias: str, target: str, subject: str) -> str:
    """``subject`` if it is a subject or wildcard subject asyncbdd may subscribe to."""
    if not subject:
        raise _refused(alias, target, "it names no subject")
    if any(character.isspace() for character in subject):
        raise _refused(alias, target, "a subject has no spaces")
    tokens = subject.split(".")
    for number, token in enumerate(tokens):
        if not token:
            raise _refused(alias, target, "a subject has no empty token (orders..created)")
        if ">" in token and (token != ">" or number != len(tokens) - 1):
            raise _refused(alias, target, "'>' may only be the last token, alone (orders.>)")
        if "*" in token and token != "*":
            raise _refused(alias, target, "'*' must be a whole token (orders.*.created)")
    return subject


def _checked_stream(alias: str, target: str, stream: str) -> str:
    """``stream`` if it is a JetStream stream name."""
    if not stream:
        raise _refused(alias, target, "it names no stream")
    if any(character.isspace() or character in ".*>\\" for character in stream):
        raise _refused(
            alias, target, "a stream name has no spaces, '.', '*', '>' or path separators"
        )
    return stream


def _has_wildcard(subject: str) -> bool:
    return any(token in ("*", ">") for token in subject.split("."))


register_transport(
    Transport(
        scheme="nats",
        build=_build,
        forms=FORMS,
        describes="a NATS subject, subscribed without a queue group, or a JetStream stream, "
        "read by an ephemeral consumer of its own",
        options=OPTIONS,
        extra="nats",
        module=__name__,
    )
)
