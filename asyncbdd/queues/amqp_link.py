"""One connection to a RabbitMQ broker, run by a thread of its own, whose every call is
bounded: the ``amqp`` transport's plumbing (:mod:`asyncbdd.queues.amqp` uses it).

pika's connections are not thread-safe, and its blocking adapter waits for some answers
(a publisher confirm, a close) without a bound. A :class:`Link` therefore runs pika's
``SelectConnection`` in its own I/O thread, with one channel: other threads hand it work
(:meth:`Link.call`, :meth:`Link.post`) and wait for the answer at most the time they
give. A call not answered in time, a channel the broker closes, or a connection lost,
ends the link: every call waiting fails with the reason, and its owner opens a new one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
from pika.adapters.select_connection import SelectConnection
from pika.exceptions import ConnectionClosedByClient

__all__ = ["Delivery", "Link", "LinkClosed", "LinkTimeout", "Reply", "Unroutable"]


OPEN_SLACK = 0.5
"""Seconds opening waits beyond the timeout given, for pika's own stack timeout to end
a handshake the broker does not answer first."""


class LinkTimeout(Exception):
    """The broker did not answer a call within the time given (the link is ended)."""


class LinkClosed(Exception):
    """The link was closed by its owner before the call was answered."""


class Unroutable(Exception):
    """The broker returned a published message: no queue is bound for its routing key."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code} {text}")
        self.code, self.text = code, text


@dataclass(frozen=True)
class Delivery:
    """A message the broker delivered to the link's consumer."""

    link: Link
    tag: int
    exchange: str
    routing_key: str
    redelivered: bool
    properties: pika.BasicProperties
    body: bytes
    received_at: float


class Reply:
    """The answer to one call, given on the I/O thread and awaited on another."""

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def done(self, value: Any = None) -> None:
        """Answer the call with ``value`` (the first answer wins)."""
        if not self._done.is_set():
            self._value = value
            self._done.set()

    def fail(self, error: BaseException) -> None:
        """Answer the call with ``error``, raised in the caller's thread."""
        if not self._done.is_set():
            self._error = error
            self._done.set()

    def wait(self, seconds: float) -> bool:
        """Whether the answer came within ``seconds``."""
        return self._done.wait(max(seconds, 0.0))

    def result(self) -> Any:
        """The value answered, or the error raised."""
        if self._error is not None:
            raise self._error
        return self._value


Work = Callable[[Any, Reply], None]
"""What a call does on the I/O thread: ``work(channel, reply)`` starts a request whose
answer (a pika callback) calls ``reply.done`` or ``reply.fail``."""


class Link:
    """A connection and one channel to the broker of ``parameters``, in its own thread.

    ``on_delivery`` receives what the channel's consumer is delivered (on the I/O thread);
    ``on_end`` is told once why the link ended (a close by its owner included).
    ``confirms`` puts the channel in publisher-confirm mode, for :meth:`publish`.
    """

    def __init__(
        self,
        parameters: pika.ConnectionParameters,
        *,
        name: str,
        confirms: bool = False,
        on_delivery: Callable[[Delivery], None] | None = None,
        on_end: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._parameters = parameters
        self._confirms = confirms
        self._on_delivery = on_delivery
        self._on_end = on_end
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._connection: SelectConnection | None = None
        self._channel: Any = None
        self._ended: BaseException | None = None
        self._pending: set[Reply] = set()
        self._confirming: dict[int, Reply] = {}
        self._published = 0
        self._returned: Unroutable | None = None
        self.answered_at = time.monotonic()
        """When the broker last sent anything (a delivery, an answer), monotonic clock."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    # ------------------------------------------------------------------ caller's side

    def open(self, timeout: float) -> None:
        """Connect and open the channel, within ``timeout`` seconds; raise why not (pika's
        error, or :class:`LinkTimeout`), the link then being ended."""
        self._thread.start()
        # pika's own stack timeout (set to ``timeout`` by the owner) ends a handshake the
        # broker does not answer; closing a connection mid-handshake trips a pika bug.
        if not self._ready.wait(timeout + OPEN_SLACK):
            self._end(LinkTimeout(f"no connection within {timeout:g} s"))
        with self._lock:
            ended = self._ended
        if ended is not None:
            self.close(timeout)
            raise ended

    @property
    def alive(self) -> bool:
        """Whether it is open and may be used."""
        with self._lock:
            return self._ended is None and self._ready.is_set()

    @property
    def ended(self) -> BaseException | None:
        """Why it ended, if it did."""
        with self._lock:
            return self._ended

    def call(self, work: Work, timeout: float) -> Any:
        """Run ``work`` on the I/O thread; return its answer, waiting at most ``timeout``
        seconds (then the link ends and :class:`LinkTimeout` is raised)."""
        reply = Reply()
        with self._lock:
            if self._ended is not None:
                raise self._ended
            self._pending.add(reply)
        self.post(lambda channel: _start(work, channel, reply))
        answered = reply.wait(timeout)
        with self._lock:
            self._pending.discard(reply)
        if not answered:
            error = LinkTimeout(f"no answer within {timeout:g} s")
            self._end(error)
            raise error
        return reply.result()

    def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        properties: pika.BasicProperties,
        timeout: float,
    ) -> None:
        """Publish one message (mandatory) and wait for the broker's confirm; raise
        :class:`Unroutable` when the broker returns it. Needs ``confirms``."""

        def start(channel: Any, reply: Reply) -> None:
            self._published += 1
            self._confirming[self._published] = reply
            channel.basic_publish(exchange, routing_key, body, properties, mandatory=True)

        self.call(start, timeout)

    def post(self, work: Callable[[Any], None]) -> None:
        """Run ``work(channel)`` on the I/O thread soon, not waiting (nothing if ended)."""
        connection = self._connection
        if connection is None or not self.alive:
            return
        try:
            connection.ioloop.add_callback_threadsafe(lambda: self._with_channel(work))
        except Exception:  # its loop closed meanwhile: it ended
            return

    def post_later(self, seconds: float, work: Callable[[Any], None]) -> None:
        """Run ``work(channel)`` on the I/O thread in ``seconds`` (nothing if it ended)."""

        def schedule(channel: Any) -> None:
            connection = self._connection
            if connection is not None:
                connection.ioloop.call_later(seconds, lambda: self._with_channel(work))

        self.post(schedule)

    def close(self, timeout: float) -> None:
        """End it: close the connection gracefully within ``timeout`` seconds, else drop
        it; the I/O thread then stops. Never raises."""
        self._end(LinkClosed("the link was closed"), graceful=True)
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._abort()
            self._thread.join(timeout)

    # ------------------------------------------------------------------ I/O thread

    def _run(self) -> None:
        try:
            connection = SelectConnection(
                self._parameters,
                on_open_callback=self._on_open,
                on_open_error_callback=self._on_open_error,
                on_close_callback=self._on_closed,
            )
        except Exception as error:  # told to the caller of open()
            self._end(error)
            return
        with self._lock:
            self._connection = connection
            ended = self._ended
        if ended is not None:  # closed before it was made
            self._stop_connection(connection)
        try:
            connection.ioloop.start()
        finally:
            connection.ioloop.close()

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel_open)

    def _on_channel_open(self, channel: Any) -> None:
        self._channel = channel
        channel.add_on_close_callback(self._on_channel_closed)
        channel.add_on_cancel_callback(self._on_cancelled)
        channel.add_on_return_callback(self._on_return)
        if self._confirms:
            channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._opened())
        else:
            self._opened()

    def _opened(self) -> None:
        self.answered_at = time.monotonic()
        self._ready.set()

    def _on_open_error(self, connection: SelectConnection, error: BaseException) -> None:
        self._end(error)
        connection.ioloop.stop()

    def _on_closed(self, connection: SelectConnection, error: BaseException) -> None:
        self._end(error)
        connection.ioloop.stop()

    def _on_channel_closed(self, channel: Any, error: BaseException) -> None:
        self._end(error)
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()

    def _on_cancelled(self, frame: Any) -> None:
        error = LinkClosed("the broker cancelled the consumer (its queue was deleted?)")
        self._end(error)
        connection = self._connection
        if connection is not None and connection.is_open:
            connection.close()

    def _on_return(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        # The broker returns an unroutable message before it confirms it.
        self._returned = Unroutable(method.reply_code, method.reply_text)

    def _on_confirm(self, frame: Any) -> None:
        self.answered_at = time.monotonic()
        method = frame.method
        tags = (
            [tag for tag in self._confirming if tag <= method.delivery_tag]
            if method.multiple
            else [method.delivery_tag]
        )
        returned, self._returned = self._returned, None
        for tag in tags:
            reply = self._confirming.pop(tag, None)
            if reply is None:
                continue
            if isinstance(method, pika.spec.Basic.Nack):
                reply.fail(LinkClosed("the broker refused the message (basic.nack)"))
            elif returned is not None:
                reply.fail(returned)
            else:
                reply.done()

    def consume(self, queue: str, *, auto_ack: bool, prefetch: int | None, timeout: float) -> None:
        """Start the channel's consumer of ``queue``, deliveries going to ``on_delivery``."""

        def on_message(channel: Any, method: Any, properties: Any, body: bytes) -> None:
            now = time.monotonic()
            self.answered_at = now
            if self._on_delivery is not None:
                self._on_delivery(
                    Delivery(
                        link=self,
                        tag=method.delivery_tag,
                        exchange=method.exchange,
                        routing_key=method.routing_key,
                        redelivered=bool(method.redelivered),
                        properties=properties,
                        body=body,
                        received_at=now,
                    )
                )

        def start(channel: Any, reply: Reply) -> None:
            def subscribe(_frame: Any = None) -> None:
                channel.basic_consume(
                    queue, on_message, auto_ack=auto_ack, callback=lambda _f: reply.done()
                )

            if prefetch is None:
                subscribe()
            else:
                channel.basic_qos(prefetch_count=prefetch, callback=subscribe)

        self.call(start, timeout)

    def _with_channel(self, work: Callable[[Any], None]) -> None:
        if self._channel is not None and self.alive:
            work(self._channel)

    def _end(self, error: BaseException, *, graceful: bool = False) -> None:
        """Record why it ended (the first reason wins), fail every call waiting, tell the
        owner; with ``graceful``, close the connection on its thread."""
        with self._lock:
            first = self._ended is None
            if first:
                self._ended = error
            pending = [*self._pending, *self._confirming.values()]
            self._pending.clear()
            self._confirming.clear()
            connection = self._connection
        self._ready.set()
        for reply in pending:
            reply.fail(self._ended or error)
        if connection is not None and (graceful or isinstance(error, LinkTimeout)):
            with contextlib.suppress(Exception):  # its loop is gone: nothing to stop
                connection.ioloop.add_callback_threadsafe(lambda: self._stop_connection(connection))
        if first and self._on_end is not None:
            self._on_end(error)

    def _stop_connection(self, connection: SelectConnection) -> None:
        """Close ``connection`` (its ``on_close`` stops the loop), or stop the loop; one
        still opening is left to pika's stack timeout (closing it mid-handshake trips a
        pika bug)."""
        if connection.is_closing or not (connection.is_open or connection.is_closed):
            return
        if connection.is_closed:
            connection.ioloop.stop()
            return
        try:
            connection.close()
        except Exception:  # in a state that cannot close: stop the loop
            connection.ioloop.stop()

    def _abort(self) -> None:
        """Drop the connection without the broker's close-ok (a broker that does not
        answer): pika has no public way to, so its stream is terminated directly."""
        connection = self._connection
        if connection is None:
            return

        def drop() -> None:
            terminate = getattr(connection, "_terminate_stream", None)
            if terminate is not None and connection.is_open:
                terminate(ConnectionClosedByClient(320, "the broker did not answer"))
            else:
                connection.ioloop.stop()

        with contextlib.suppress(Exception):  # its loop is gone already
            connection.ioloop.add_callback_threadsafe(drop)


def _start(work: Work, channel: Any, reply: Reply) -> None:
    """Start ``work``; an error raised by pika while starting it answers the call."""
    try:
        work(channel, reply)
    except Exception as error:  # raised in the caller's thread instead
        reply.fail(error)
