"""Redis pub/sub channels through redis-py: ``SUBSCRIBE`` (``PSUBSCRIBE`` for a pattern)
made when the reader opens, and messages handed over as the connection brings them.

A channel keeps nothing: a reader sees what is published while it is subscribed, and
every subscriber gets its own copy, so reading takes nothing from the service's own
subscribers. A message is a body and nothing else, so the correlation id can only be in
a field of its JSON body (``field:PATH``, setting ``asyncbdd.redis.channel_correlation``
or ``asyncbdd.queues.correlation``), or correlation be ``off``; ``attribute:NAME`` is
refused when the alias is first used.

A name with ``*``, ``?`` or ``[`` is a pattern (``redis:channel/orders.*``): it is read
with ``PSUBSCRIBE`` and cannot be published to.

A subscribed connection is silent while nothing is published, so a reader asks the
server (``PING``) after :data:`PROBE_EVERY` quiet seconds, to tell a quiet channel from a
server that stopped answering. A lost connection is made again, and subscribed again,
by the next read; what was published in between never reaches the reader, and a wait
that fails says so.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import Any

from redis import Redis
from redis.client import PubSub
from redis.exceptions import RedisError

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration
from asyncbdd.errors import ConfigurationError, InvalidInput
from asyncbdd.queues.base import BrokerUnreachable, Correlation, Queue, QueueUnavailable
from asyncbdd.queues.message import Message
from asyncbdd.queues.redis_connection import connect, failure, server_name
from asyncbdd.queues.transports import transport_options
from asyncbdd.secrets import mask_url

__all__ = ["RedisChannel"]

PROBE_EVERY = 1.0
"""Quiet seconds after which a reader asks the server whether it still answers."""
BATCH = 500
"""Most messages one read hands over."""
PATTERN_CHARACTERS = "*?["


class RedisChannel(Queue):
    """A Redis pub/sub channel, or the channels a pattern matches, subscribed to when opened.

    ``url`` defaults to the setting ``asyncbdd.redis.url``; ``correlation`` to the setting
    ``asyncbdd.redis.channel_correlation`` or, empty, ``asyncbdd.queues.correlation``.
    Raises :class:`~asyncbdd.errors.ConfigurationError` for a correlation id in an
    attribute, which a channel's messages cannot carry.
    """

    kind = "Redis channel"
    noun = "channel"
    read_from_scenario_start = True

    def __init__(
        self,
        alias: str,
        channel: str,
        *,
        url: str | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        options = transport_options("redis")
        spec = str(options["channel_correlation"])
        if correlation is None and spec:
            correlation = Correlation(spec)
        super().__init__(alias, correlation)
        self.channel = channel
        self.pattern = any(character in channel for character in PATTERN_CHARACTERS)
        self.url = url or str(options["url"])
        if self.correlation.kind == "attribute":
            raise ConfigurationError(
                f"The Redis channel {channel!r} (alias {alias!r}) carries a body only, no "
                f"attributes, so its messages cannot carry the correlation id in the "
                f"{self.correlation}. Set asyncbdd.redis.channel_correlation = "
                "field:correlation_id (the id in a field of the JSON body; any dotted path), "
                "or off (every message read during a scenario is its own)."
            )
        self._client: Redis | None = None
        self._subscriber: Redis | None = None
        """The client of its subscriptions: one that never makes a lost connection again
        on its own, which would lose messages unnoticed."""
        self._pubsub: PubSub | None = None
        self._answered_at = time.monotonic()
        self._ping_sent_at: float | None = None
        self._lost_at: float | None = None
        """When the subscription was lost, while it is."""
        self._last_gap: tuple[float, float] | None = None
        """When the latest lost subscription was lost and made again."""
        self._count = 0
        self._lock = threading.Lock()

    def describe(self) -> str:
        what = "channels matching" if self.pattern else "channel"
        return f"Redis {what} {self.channel!r} at {mask_url(self.url)}"

    def broker(self) -> str:
        return server_name(self.url)

    def longest_call(self) -> float:
        # subscribing again (connect, then the confirmation), or waiting for a PING's answer
        return 2 * get_settings().connect_timeout

    def open(self) -> None:
        """Subscribe, and wait (at most the connect timeout) until the server confirms it:
        what is published from then on is received."""
        self._drop_subscription()
        timeout = get_settings().connect_timeout
        with self._lock:
            if self._subscriber is None:
                self._subscriber = connect(self.url, reconnect=False)
            pubsub = self._subscriber.pubsub(  # type: ignore[no-untyped-call]
                ignore_subscribe_messages=False
            )
        subscribe = pubsub.psubscribe if self.pattern else pubsub.subscribe
        try:
            subscribe(self.channel)
            confirmed = _confirmation(pubsub, timeout)
        except (RedisError, OSError) as error:
            pubsub.close()
            raise self._failure("subscribe to", error) from None
        if not confirmed:
            pubsub.close()
            reason = f"no confirmation of the subscription within {timeout:g} s"
            raise BrokerUnreachable(
                f"{self.broker()} did not answer ({reason}) for the {self._what()} (alias "
                f"{self.alias!r}). Check that the server runs and is not overloaded; "
                "asyncbdd.connect_timeout bounds how long to wait.",
                broker=self.broker(),
                reason=reason,
            )
        now = time.monotonic()
        with self._lock:
            self._pubsub = pubsub
            self._answered_at, self._ping_sent_at = now, None
            if self._lost_at is not None:
                self._last_gap, self._lost_at = (self._lost_at, now), None

    def receive(self, wait: float) -> list[Message]:
        if self._pubsub is None:
            self.open()
        pubsub = self._pubsub
        assert pubsub is not None
        timeout = get_settings().connect_timeout
        until = time.monotonic() + max(wait, 0.0)
        messages: list[Message] = []
        try:
            while len(messages) < BATCH:
                now = time.monotonic()
                self._check_answers(pubsub, now, timeout)
                pause = 0.0 if messages else max(until - now, 0.0)
                if self._ping_sent_at is not None:
                    pause = min(pause, max(self._ping_sent_at + timeout - now, 0.0))
                raw = pubsub.get_message(timeout=pause)
                if raw is None:
                    if messages or time.monotonic() >= until:
                        break
                    continue
                self._answered_at = time.monotonic()
                if raw["type"] == "pong":
                    self._ping_sent_at = None
                elif raw["type"] in ("message", "pmessage"):
                    messages.append(self._message(raw, self._answered_at))
        except (RedisError, OSError) as error:
            self._lose()
            raise self._failure("read from", error) from None
        except BrokerUnreachable:
            self._lose()
            raise
        return messages

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        """Publish ``body`` on the channel (to whoever is subscribed now)."""
        if self.pattern:
            raise InvalidInput(
                f"The alias {self.alias!r} names a pattern of Redis channels, "
                f"{self.channel!r}, which cannot be published to: name one channel "
                "(redis:channel/NAME) in an alias of its own to send to it."
            )
        if attributes or key is not None:
            extra = sorted(attributes) + (["key"] if key is not None else [])
            raise InvalidInput(
                f"Messages of the Redis channel {self.channel!r} (alias {self.alias!r}) are "
                f"a body only: {', '.join(extra)} cannot be sent. Put them in the JSON body."
            )
        try:
            self._commands().publish(self.channel, body)
        except (RedisError, OSError) as error:
            raise self._failure("publish to", error) from None

    def close(self) -> None:
        """Unsubscribe and close its connections; opening it again subscribes anew."""
        self._drop_subscription()
        with self._lock:
            clients = [self._client, self._subscriber]
            self._client = self._subscriber = None
            self._lost_at = self._last_gap = None
        for client in clients:
            if client is not None:
                client.close()

    def problems(self) -> str | None:
        now = time.monotonic()
        if self._lost_at is not None:
            return (
                f"the subscription was lost {format_duration(now - self._lost_at)} ago and "
                "is not made again yet: what is published meanwhile never reaches asyncbdd "
                "(a channel keeps nothing)"
            )
        if self._last_gap is not None:
            lost, made = self._last_gap
            return (
                f"the subscription was lost for {format_duration(made - lost)}, "
                f"{format_duration(now - made)} ago: what was published then never reached "
                "asyncbdd (a channel keeps nothing)"
            )
        return None

    def _check_answers(self, pubsub: PubSub, now: float, timeout: float) -> None:
        """Ask the server for an answer after a quiet spell; raise if the last question
        went unanswered for the connect timeout."""
        if self._ping_sent_at is not None:
            if now - self._ping_sent_at >= timeout:
                reason = f"no answer to PING within {timeout:g} s"
                raise BrokerUnreachable(
                    f"{self.broker()} did not answer ({reason}) while reading the "
                    f"{self._what()} (alias {self.alias!r}). Check that the server runs and "
                    "is not stopped or overloaded; asyncbdd.connect_timeout bounds how long "
                    "to wait.",
                    broker=self.broker(),
                    reason=reason,
                    since=self._answered_at,
                )
        elif now - self._answered_at >= PROBE_EVERY:
            pubsub.ping()
            self._ping_sent_at = now

    def _message(self, raw: dict[str, Any], received: float) -> Message:
        self._count += 1
        channel = raw["channel"]
        name = channel.decode("utf-8", "replace") if isinstance(channel, bytes) else str(channel)
        return self.message(
            raw["data"], {}, message_id=f"{name}#{self._count}", received_at=received
        )

    def _lose(self) -> None:
        """Forget a subscription whose connection failed: the next read makes it again."""
        self._drop_subscription()
        with self._lock:
            if self._lost_at is None:
                self._lost_at = time.monotonic()

    def _drop_subscription(self) -> None:
        with self._lock:
            pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            with contextlib.suppress(RedisError, OSError):  # its connection is gone already
                pubsub.close()

    def _commands(self) -> Redis:
        with self._lock:
            if self._client is None:
                self._client = connect(self.url)
            return self._client

    def _what(self) -> str:
        return f"Redis {'channels matching' if self.pattern else 'channel'} {self.channel!r}"

    def _failure(self, action: str, error: BaseException) -> QueueUnavailable:
        return failure(f"the {self._what()}", self.alias, self.url, action, error)


def _confirmation(pubsub: PubSub, seconds: float) -> bool:
    """Whether the server confirmed the subscription within ``seconds``."""
    until = time.monotonic() + seconds
    while True:
        raw = pubsub.get_message(timeout=max(until - time.monotonic(), 0.0))
        if raw is not None and raw["type"] in ("subscribe", "psubscribe"):
            return True
        if raw is None and time.monotonic() >= until:
            return False
