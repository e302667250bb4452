"""RabbitMQ (AMQP 0-9-1) through pika: a push consumer per alias, never a poll.

Two alias forms:

* ``amqp:exchange/EXCHANGE`` (or ``amqp:exchange/EXCHANGE/ROUTING-KEY``) *taps* an
  exchange: the reader declares a private, exclusive, auto-delete queue bound to it (with
  the routing key, or ``#``), so it gets a copy of every message routed there from the
  moment it opens, and the service's own queues and consumers lose nothing. This is the
  safe choice on a shared broker.
* ``amqp:queue/QUEUE`` reads a named queue as one more consumer of it: the broker then
  shares its messages between the service's consumers and asyncbdd's, and asyncbdd gives
  back those of others (``basic.nack`` with ``requeue``, never to a dead-letter exchange).

A message's headers are its attributes, and its ``correlation_id`` property is the
``correlation_id`` attribute unless a header of that name is set (the header wins). Its
routing key is its key. The broker is the ``asyncbdd.amqp.url`` setting. Every call is
bounded by ``asyncbdd.connect_timeout`` (:mod:`asyncbdd.queues.amqp_link`).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any
from urllib.parse import unquote, urlsplit

import pika
from pika.exceptions import (
    AMQPChannelError,
    AMQPConnectionError,
    ChannelClosedByBroker,
    ConnectionClosedByBroker,
    ProbableAccessDeniedError,
    ProbableAuthenticationError,
)

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError, InvalidInput
from asyncbdd.queues.amqp_link import (
    OPEN_SLACK,
    Delivery,
    Link,
    LinkClosed,
    LinkTimeout,
    Unroutable,
)
from asyncbdd.queues.base import (
    BrokerUnreachable,
    Correlation,
    Queue,
    QueueNotFound,
    QueueUnavailable,
)
from asyncbdd.queues.message import Message, read_body
from asyncbdd.queues.transports import Option, Transport, register_transport, transport_options
from asyncbdd.secrets import mask_url, mask_urls_in

__all__ = ["AmqpQueue"]

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
FORMS = "amqp:exchange/EXCHANGE, amqp:exchange/EXCHANGE/ROUTING-KEY, amqp:queue/QUEUE"
BATCH = 500
"""Most messages one receive returns."""
PROBE_EVERY = 1.0
"""Seconds without news from the broker after which a receive that brought nothing asks
it a question, to tell a quiet queue from a broker that stopped answering."""
CORRELATION_PROPERTY = "correlation_id"


def checked_url(text: str) -> str:
    """``text`` if it is an AMQP URL; ``ValueError`` saying what to write if not (the
    setting ``asyncbdd.amqp.url``)."""
    url = text.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is no number
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("amqp", "amqps"):
        raise ValueError(
            "write amqp://USER:PASSWORD@HOST:PORT/VHOST (amqps:// for TLS; the vhost '/' is "
            "%2F), e.g. amqp://guest:guest@127.0.0.1:5672/%2F"
        )
    if not parts.hostname:
        raise ValueError(f"it names no host; write {parts.scheme}://USER:PASSWORD@HOST:PORT/VHOST")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    return url


def checked_prefetch(text: str) -> int:
    """``text`` as a prefetch count, 1 to 65535; ``ValueError`` if it is not one."""
    try:
        count = int(text)
    except ValueError:
        count = 0
    if not 0 < count < 65536:
        raise ValueError("write a whole number of messages from 1 to 65535, e.g. 200")
    return count


OPTIONS = {
    "url": Option(
        DEFAULT_URL,
        "the RabbitMQ broker: amqp://USER:PASSWORD@HOST:PORT/VHOST (amqps:// for TLS)",
        checked_url,
    ),
    "prefetch": Option(
        200,
        "most unacknowledged messages of an amqp:queue/QUEUE alias held by its reader",
        checked_prefetch,
    ),
}
"""The ``amqp`` transport's settings, ``asyncbdd.amqp.NAME`` (``ASYNCBDD_AMQP_NAME``)."""


class AmqpQueue(Queue):
    """A RabbitMQ exchange, tapped through a private queue, or a named queue, read.

    ``exchange`` (with ``routing_key``, default ``#``) names an exchange to tap; ``queue``
    a queue to read. ``url`` defaults to the setting ``asyncbdd.amqp.url``.
    """

    noun = "queue"

    def __init__(
        self,
        alias: str,
        *,
        exchange: str | None = None,
        routing_key: str | None = None,
        queue: str | None = None,
        url: str | None = None,
        prefetch: int | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        super().__init__(alias, correlation)
        if (exchange is None) == (queue is None) or exchange == "" or queue == "":
            raise ConfigurationError(
                f"The AMQP alias {alias!r} must name one exchange or one queue ({FORMS})."
            )
        options = transport_options("amqp")
        self.exchange = exchange
        self.routing_key = routing_key
        self.queue_name = queue
        self.url = checked_url(url) if url else str(options["url"])
        self.prefetch = prefetch or int(str(options["prefetch"]))
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._reader: Link | None = None
        self._sender: Link | None = None
        self._reading: str | None = None
        """The queue the reader consumes: the named one, or its tap's (server-named)."""
        self._arrived: deque[Delivery] = deque()
        self._changed = threading.Condition()
        self._lost: BaseException | None = None
        """Why the reader's link ended, until a receive reports it."""
        self._lost_at: float | None = None
        self._tap_gaps: list[tuple[float, float]] = []
        """For a tap: (lost, bound again) times on the monotonic clock."""
        self._kept_unacknowledged: OrderedDict[str, None] = OrderedDict()
        """Messages delivered to a scenario whose acknowledgement could not be sent (its
        link had ended): the broker gives them again, and they must not count twice."""

    # ------------------------------------------------------------------ what it is

    @property
    def tapped(self) -> bool:
        """Whether it taps an exchange (rather than reading a named queue)."""
        return self.exchange is not None

    @property
    def kind(self) -> str:  # type: ignore[override]
        """What it is, for messages: a RabbitMQ exchange or queue."""
        return "RabbitMQ exchange" if self.tapped else "RabbitMQ queue"

    @property
    def read_from_scenario_start(self) -> bool:  # type: ignore[override]
        """A tap copies only what is published once it is bound: it is bound (the reader
        opened) at the first scenario's start."""
        return self.tapped

    @property
    def reads_exclusively(self) -> bool:  # type: ignore[override]
        """A named queue's message delivered to asyncbdd is no other consumer's until
        acknowledged or given back."""
        return not self.tapped

    @property
    def holds_copies(self) -> bool:  # type: ignore[override]
        """A tap's messages are copies for this run alone."""
        return self.tapped

    def describe(self) -> str:
        if self.tapped:
            key = f" (routing key {self.binding_key!r})" if self.routing_key else ""
            return f"RabbitMQ exchange {self.exchange!r}{key} at {mask_url(self.url)}"
        return f"RabbitMQ queue {self.queue_name!r} at {mask_url(self.url)}"

    def broker(self) -> str:
        return f"RabbitMQ at {mask_url(self.url)}"

    @property
    def binding_key(self) -> str:
        """The routing key (a pattern, for a topic exchange) the tap is bound with."""
        return self.routing_key if self.routing_key else "#"

    def longest_call(self) -> float:
        # connecting, then the round trips of opening (declare, bind, consume)
        return 2 * get_settings().connect_timeout + OPEN_SLACK

    # ------------------------------------------------------------------ reading

    def open(self) -> None:
        """Connect, check that the exchange or queue exists, and start consuming: a tap
        is declared and bound now (and copies what is routed from now on).

        Raises :class:`QueueNotFound` naming a missing exchange or queue, and
        :class:`QueueUnavailable` (:class:`BrokerUnreachable`) for a broker that refuses
        or does not answer, within the ``asyncbdd.connect_timeout`` setting.
        """
        with self._lock:
            if self._reader is not None and self._reader.alive:
                return
            stale, self._reader = self._reader, None
        if stale is not None:
            stale.close(get_settings().connect_timeout)
        timeout = get_settings().connect_timeout
        link = Link(
            self._parameters(),
            name=f"asyncbdd-amqp-{self.alias}",
            on_delivery=self._on_delivery,
            on_end=self._on_reader_end,
        )
        try:
            link.open(timeout)
            if self.tapped:
                assert self.exchange is not None
                link.call(_declare_exchange(self.exchange), timeout)
                reading = str(link.call(_declare_tap(), timeout))
                link.call(_bind(reading, self.exchange, self.binding_key), timeout)
                link.consume(reading, auto_ack=True, prefetch=None, timeout=timeout)
            else:
                assert self.queue_name is not None
                reading = self.queue_name
                link.call(_declare_queue(reading), timeout)
                link.consume(reading, auto_ack=False, prefetch=self.prefetch, timeout=timeout)
        except Exception as error:
            link.close(timeout)
            raise self._failure("open", error) from None
        with self._changed:
            self._lost = None
            if self._lost_at is not None and self.tapped:
                self._tap_gaps.append((self._lost_at, time.monotonic()))
            self._lost_at = None
        with self._lock:
            self._reader, self._reading = link, reading

    def receive(self, wait: float) -> list[Message]:
        link = self._reading_link()
        deadline = time.monotonic() + max(wait, 0.0)
        with self._changed:
            while not self._arrived and self._lost is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._changed.wait(left)
            deliveries = [self._arrived.popleft() for _ in range(min(BATCH, len(self._arrived)))]
            lost = self._lost
        if not deliveries and lost is not None:
            with self._lock:
                if self._reader is link:
                    self._reader = None
            link.close(get_settings().connect_timeout)
            with self._changed:
                self._lost = None
            raise self._failure("read from", lost)
        if not deliveries:
            self._check_answers(link)
        return [message for d in deliveries if (message := self._message(d)) is not None]

    def delete(self, messages: Sequence[Message]) -> None:
        """Acknowledge a named queue's messages (a tap's were acknowledged on delivery)."""
        for link, tags, ids in _by_link(messages):
            if link.alive:
                link.post(partial(_acknowledge, tags=tags))
            else:  # the broker gives them again: remember not to count them twice
                for message_id in ids:
                    self._kept_unacknowledged[message_id] = None
                while len(self._kept_unacknowledged) > 10_000:
                    self._kept_unacknowledged.popitem(last=False)

    def release(self, messages: Sequence[Message], hide_for: int) -> None:
        """Give others' messages back to the named queue (``basic.nack``, requeued: never
        dead-lettered), now or after ``hide_for`` seconds, during which they stay
        unacknowledged and so hidden from every consumer."""
        for link, tags, _ids in _by_link(messages):
            if hide_for > 0:
                link.post_later(hide_for, partial(_give_back, tags=tags))
            else:
                link.post(partial(_give_back, tags=tags))

    def backlog(self) -> int | None:
        """The messages ready in the named queue (a passive ``queue.declare``)."""
        with self._lock:
            link, reading = self._reader, self._reading
        if link is None or reading is None or not link.alive:
            return None
        try:
            count = link.call(_declare_queue(reading), get_settings().connect_timeout)
        except Exception as error:
            raise self._failure("count the messages of", error) from None
        return int(count)

    def problems(self) -> str | None:
        if not self._tap_gaps:
            return None
        lost, bound = self._tap_gaps[-1]
        return (
            f"the tap of the exchange {self.exchange!r} was lost for {bound - lost:.1f} s "
            f"({len(self._tap_gaps)} time(s)) while {self.broker()} did not answer: what was "
            "published meanwhile was not copied to it"
        )

    # ------------------------------------------------------------------ sending

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        """Publish one message and wait for the broker's confirm: to the exchange with
        ``key`` (or the alias's routing key), or to the queue through the default
        exchange. Attributes become headers; the correlation id is also the
        ``correlation_id`` property. A message no queue receives is an error."""
        exchange, routing_key = self._route(key)
        correlation_id = attributes.get(CORRELATION_PROPERTY)
        if correlation_id is None and self.correlation.kind == "attribute":
            correlation_id = attributes.get(self.correlation.name)
        properties = pika.BasicProperties(
            content_type="application/json" if read_body(body).why is None else "text/plain",
            delivery_mode=pika.DeliveryMode.Persistent,
            headers=dict(attributes) or None,
            correlation_id=correlation_id,
            timestamp=int(time.time()),
        )
        timeout = get_settings().connect_timeout
        with self._send_lock:
            for attempt in (1, 2):
                link = self._sending_link()
                try:
                    link.publish(exchange, routing_key, body.encode(), properties, timeout)
                    return
                except Unroutable as error:
                    raise self._unroutable(routing_key, error) from None
                except Exception as error:
                    if link.alive:
                        raise self._failure("publish to", error) from None
                    with self._lock:
                        self._sender = None
                    link.close(timeout)
                    # A connection the broker dropped while idle (a restart) is found dead
                    # by the publish: try once on a new one. Should it have died after the
                    # broker took the message, unconfirmed, the message may come twice: a
                    # count fails then, never passes.
                    if attempt == 2:
                        raise self._failure("publish to", error) from None

    def close(self) -> None:
        """Close its connections, within the connect timeout each; a tap's queue goes
        with its connection. Opening it again binds a new tap."""
        with self._lock:
            links = [self._reader, self._sender]
            self._reader = self._sender = None
            self._reading = None
        with self._changed:
            self._arrived.clear()
            self._lost, self._lost_at = None, None
        for link in links:
            if link is not None:
                link.close(get_settings().connect_timeout)

    # ------------------------------------------------------------------ helpers

    def _parameters(self) -> pika.URLParameters:
        try:
            parameters = pika.URLParameters(self.url)
        except Exception as error:  # pika's many errors for a bad URL
            raise ConfigurationError(
                f"asyncbdd.amqp.url = {mask_url(self.url)!r} is invalid "
                f"({mask_urls_in(str(error))}); write amqp://USER:PASSWORD@HOST:PORT/VHOST."
            ) from None
        timeout = get_settings().connect_timeout
        query = urlsplit(self.url).query
        if "socket_timeout" not in query:
            parameters.socket_timeout = timeout
        if "stack_timeout" not in query:
            parameters.stack_timeout = timeout
        parameters.connection_attempts = 1
        parameters.retry_delay = 0
        parameters.client_properties = {"connection_name": f"asyncbdd {self.alias}"}
        return parameters

    def _reading_link(self) -> Link:
        with self._lock:
            link = self._reader
        if link is None or (link.ended is not None and not self._arrived):
            self.open()
            with self._lock:
                link = self._reader
        assert link is not None
        return link

    def _sending_link(self) -> Link:
        with self._lock:
            link = self._sender
        if link is not None and link.alive:
            return link
        timeout = get_settings().connect_timeout
        link = Link(self._parameters(), name=f"asyncbdd-amqp-{self.alias}-send", confirms=True)
        try:
            link.open(timeout)
            if self.tapped:
                assert self.exchange is not None
                link.call(_declare_exchange(self.exchange), timeout)
        except Exception as error:
            link.close(timeout)
            raise self._failure("publish to", error) from None
        with self._lock:
            self._sender = link
        return link

    def _route(self, key: str | None) -> tuple[str, str]:
        """The exchange and routing key a message sent to it is published with."""
        if not self.tapped:
            if key is not None:
                raise InvalidInput(
                    f"A message sent to the RabbitMQ queue {self.queue_name!r} (alias "
                    f"{self.alias!r}) is routed by the queue's name; send it without a key, "
                    "or tap its exchange (amqp:exchange/EXCHANGE) to publish with a routing key."
                )
            assert self.queue_name is not None
            return "", self.queue_name
        assert self.exchange is not None
        if key is not None:
            return self.exchange, key
        if self.routing_key and any(mark in self.routing_key for mark in "*#"):
            raise InvalidInput(
                f"The alias {self.alias!r} taps the RabbitMQ exchange {self.exchange!r} with "
                f"the pattern {self.routing_key!r}: a message sent to it needs a routing key "
                "(publish it with a key, e.g. 'order.created')."
            )
        return self.exchange, self.routing_key or ""

    def _on_delivery(self, delivery: Delivery) -> None:
        with self._changed:
            self._arrived.append(delivery)
            self._changed.notify_all()

    def _on_reader_end(self, error: BaseException) -> None:
        with self._changed:
            if not self.tapped:
                # the broker gives unacknowledged messages to other consumers again
                self._arrived.clear()
            if not isinstance(error, LinkClosed) or "cancelled" in str(error):
                self._lost = error
                self._lost_at = time.monotonic()
            self._changed.notify_all()

    def _check_answers(self, link: Link) -> None:
        """Ask the broker a question after :data:`PROBE_EVERY` quiet seconds; raise
        :class:`BrokerUnreachable` if it does not answer (the link is ended then)."""
        if time.monotonic() - link.answered_at < PROBE_EVERY:
            return
        with self._lock:
            reading = self._reading
        if reading is None:
            return
        try:
            link.call(_declare_queue(reading), get_settings().connect_timeout)
        except Exception as error:
            with self._lock:
                if self._reader is link:
                    self._reader = None
            with self._changed:
                self._lost = None
            link.close(get_settings().connect_timeout)
            raise self._failure("read from", error) from None
        link.answered_at = time.monotonic()

    def _message(self, delivery: Delivery) -> Message | None:
        properties = delivery.properties
        attributes = {name: _text(value) for name, value in (properties.headers or {}).items()}
        if properties.correlation_id is not None:
            attributes.setdefault(CORRELATION_PROPERTY, properties.correlation_id)
        message_id = self._identity(delivery, attributes)
        if delivery.redelivered and message_id in self._kept_unacknowledged:
            del self._kept_unacknowledged[message_id]
            delivery.link.post(partial(_acknowledge, tags=[delivery.tag]))
            return None  # a scenario had it already
        return self.message(
            delivery.body,
            attributes,
            key=delivery.routing_key,
            message_id=message_id,
            sent_at=float(properties.timestamp) if properties.timestamp else None,
            received_at=delivery.received_at,
            receipt=None if self.tapped else (delivery.link, delivery.tag),
        )

    def _identity(self, delivery: Delivery, attributes: Mapping[str, str]) -> str:
        """Its ``message_id`` property; else, for a tap, its delivery on the tap, and for
        a named queue a digest of its content, the same each time the broker gives it
        (how giving back counts how often a message came back)."""
        properties = delivery.properties
        if properties.message_id:
            return str(properties.message_id)
        if self.tapped:
            return f"{self.exchange}/{delivery.routing_key}#{id(delivery.link):x}.{delivery.tag}"
        digest = hashlib.sha256(delivery.body)
        digest.update(json.dumps(sorted(attributes.items())).encode())
        digest.update(f"{delivery.exchange}/{delivery.routing_key}/{properties.timestamp}".encode())
        return f"{self.queue_name}@{digest.hexdigest()[:16]}"

    def _failure(self, action: str, error: BaseException) -> Exception:  # noqa: PLR0911
        """The error to raise for ``error``, met trying to ``action`` it."""
        what = f"the {self.kind} {self.exchange or self.queue_name!r} (alias {self.alias!r})"
        said = mask_urls_in(str(error) or type(error).__name__)
        if isinstance(error, (ConfigurationError, InvalidInput, QueueUnavailable, QueueNotFound)):
            return error
        if isinstance(error, ChannelClosedByBroker) and error.reply_code == 404:
            return QueueNotFound(
                f"Could not {action} {what}: it does not exist on {self.broker()} "
                f"({error.reply_text}). Check its name and the vhost in asyncbdd.amqp.url, or "
                f"point the alias at one that exists (setting asyncbdd.queues, {FORMS})."
            )
        if isinstance(error, ProbableAuthenticationError) or (
            isinstance(error, ConnectionClosedByBroker) and error.reply_code == 403
        ):
            return QueueUnavailable(
                f"Could not {action} {what}: {self.broker()} refused the credentials ({said}). "
                "Check the user and password in asyncbdd.amqp.url "
                "(amqp://USER:PASSWORD@HOST:PORT/VHOST)."
            )
        if isinstance(error, ProbableAccessDeniedError) or (
            isinstance(error, ConnectionClosedByBroker) and error.reply_code == 530
        ):
            vhost = unquote(urlsplit(self.url).path.lstrip("/")) or "/"
            return QueueUnavailable(
                f"Could not {action} {what}: {self.broker()} does not let the user in to the "
                f"vhost {vhost!r} ({said}). Check the vhost in asyncbdd.amqp.url (the vhost '/' "
                "is written %2F) and the user's permissions."
            )
        if isinstance(error, ChannelClosedByBroker):
            return QueueUnavailable(
                f"Could not {action} {what} on {self.broker()}: the broker refused "
                f"({error.reply_code} {error.reply_text}). Check the user's permissions on it."
            )
        if isinstance(error, (LinkTimeout, LinkClosed, AMQPConnectionError, OSError)):
            reason = _unanswered(error)
            return BrokerUnreachable(
                f"Could not {action} {what}: {self.broker()} did not answer ({reason}: "
                f"{said}). Check that RabbitMQ runs there and is not stopped or overloaded, "
                "and that asyncbdd.amqp.url names it; asyncbdd.connect_timeout bounds each "
                "attempt.",
                broker=self.broker(),
                reason=reason,
                since=self._lost_at,
            )
        kind = type(error).__name__ if isinstance(error, AMQPChannelError) else repr(error)
        return QueueUnavailable(
            f"Could not {action} {what} at {self.broker()}: {kind}: {said}. Check the "
            "broker's configuration and asyncbdd.amqp.url."
        )

    def _unroutable(self, routing_key: str, error: Unroutable) -> Exception:
        if not self.tapped:
            return QueueNotFound(
                f"Could not publish to the RabbitMQ queue {self.queue_name!r} (alias "
                f"{self.alias!r}): it does not exist on {self.broker()} (the broker returned "
                f"the message: {error}). Check its name, or point the alias at one that exists."
            )
        return QueueUnavailable(
            f"Could not publish to the RabbitMQ exchange {self.exchange!r} (alias "
            f"{self.alias!r}) on {self.broker()}: no queue is bound to it for the routing key "
            f"{routing_key!r}, so the broker returned the message ({error}). Publish with the "
            "routing key its queues are bound with."
        )


def _build(alias: str, target: str) -> Queue:
    """The exchange or queue ``amqp:exchange/EXCHANGE[/ROUTING-KEY]`` or
    ``amqp:queue/QUEUE`` names."""
    kind, slash, rest = target.partition("/")
    kind = kind.strip()
    if slash and rest.strip() and kind == "queue":
        return AmqpQueue(alias, queue=rest.strip())
    if slash and kind == "exchange":
        exchange, _, key = rest.partition("/")
        if exchange.strip():
            return AmqpQueue(alias, exchange=exchange.strip(), routing_key=key.strip() or None)
    raise ConfigurationError(
        f"Queue alias {alias!r} = 'amqp:{mask_url(target)}' is not understood (setting "
        f"asyncbdd.queues). Write {FORMS}."
    )


register_transport(
    Transport(
        scheme="amqp",
        build=_build,
        forms=FORMS,
        describes="a RabbitMQ exchange, tapped through a private queue, or a queue, read",
        options=OPTIONS,
        extra="rabbitmq",
        module=__name__,
    )
)


def _declare_exchange(exchange: str) -> Any:
    def work(channel: Any, reply: Any) -> None:
        channel.exchange_declare(exchange, passive=True, callback=lambda _f: reply.done())

    return work


def _declare_tap() -> Any:
    """Declare a private queue (server-named, exclusive, auto-delete); answer its name."""

    def work(channel: Any, reply: Any) -> None:
        channel.queue_declare(
            "",
            exclusive=True,
            auto_delete=True,
            callback=lambda frame: reply.done(frame.method.queue),
        )

    return work


def _bind(queue: str, exchange: str, routing_key: str) -> Any:
    def work(channel: Any, reply: Any) -> None:
        channel.queue_bind(queue, exchange, routing_key, callback=lambda _f: reply.done())

    return work


def _declare_queue(queue: str) -> Any:
    """Declare ``queue`` passively; answer how many messages are ready in it."""

    def work(channel: Any, reply: Any) -> None:
        channel.queue_declare(
            queue, passive=True, callback=lambda frame: reply.done(frame.method.message_count)
        )

    return work


def _acknowledge(channel: Any, tags: Sequence[int]) -> None:
    for tag in tags:
        channel.basic_ack(tag)


def _give_back(channel: Any, tags: Sequence[int]) -> None:
    for tag in tags:
        channel.basic_nack(tag, requeue=True)


def _by_link(messages: Sequence[Message]) -> list[tuple[Link, list[int], list[str]]]:
    """Messages with a receipt, grouped by the link they came through: its delivery tags
    and message ids."""
    groups: dict[int, tuple[Link, list[int], list[str]]] = {}
    for message in messages:
        if message.receipt is None:
            continue
        link, tag = message.receipt
        group = groups.setdefault(id(link), (link, [], []))
        group[1].append(tag)
        group[2].append(message.message_id)
    return list(groups.values())


def _text(value: Any) -> str:
    """A header's value as text: bytes decoded, tables and arrays as JSON."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _unanswered(error: BaseException) -> str:
    """How the broker failed to answer, from the error met."""
    said = str(error).lower()
    if isinstance(error, LinkTimeout):
        return str(error)
    if "refused" in said:
        return "connection refused"
    if isinstance(error, LinkClosed):
        return "the connection was closed"
    return "connection lost"
