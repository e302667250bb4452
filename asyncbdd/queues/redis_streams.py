"""Redis streams through redis-py: ``XREAD BLOCK`` from where the stream ended when the
reader opened, never a consumer group; and the ``redis`` transport's registration.

An alias ``redis:stream/NAME`` is a stream, ``redis:channel/NAME`` a pub/sub channel
(:mod:`asyncbdd.queues.redis_channels`). Reading a stream takes nothing from anyone: it
creates no consumer group, acknowledges nothing and deletes or trims nothing, so the
service's own groups and consumers are untouched. Each entry's fields are the message's
attributes, and its body is the field named by ``asyncbdd.redis.body_field`` (default
``body``); an entry without that field is read as a JSON object of all its fields.

A stream that does not exist yet is no error (a service may create it with its first
entry): the reader waits for it, reads it from its first entry once it appears (all of
it is new), and a wait that ends meanwhile says that the stream does not exist.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from redis import Redis
from redis.exceptions import RedisError

from asyncbdd.config import get_settings
from asyncbdd.errors import ConfigurationError, InvalidInput
from asyncbdd.queues.base import Correlation, Queue, QueueNotFound, QueueUnavailable
from asyncbdd.queues.message import Message
from asyncbdd.queues.redis_channels import RedisChannel
from asyncbdd.queues.redis_connection import OPTIONS, connect, failure, server_name
from asyncbdd.queues.transports import Transport, register_transport, transport_options
from asyncbdd.secrets import mask_url

__all__ = ["RedisStream"]

LONGEST_BLOCK = 1.0
"""Longest one ``XREAD BLOCK`` waits on the server's side, in seconds (a longer ``wait``
returns early, empty): it bounds, with the connect timeout, how long a read of a server
that stopped answering takes to fail."""
BATCH = 500
"""Most entries one read brings."""


class RedisStream(Queue):
    """A Redis stream, read from its last entry as it was when opened.

    ``url`` and ``body_field`` default to the settings ``asyncbdd.redis.url`` and
    ``asyncbdd.redis.body_field``.
    """

    kind = "Redis stream"
    noun = "stream"
    read_from_scenario_start = True

    def __init__(
        self,
        alias: str,
        stream: str,
        *,
        url: str | None = None,
        body_field: str | None = None,
        correlation: Correlation | None = None,
    ) -> None:
        super().__init__(alias, correlation)
        options = transport_options("redis")
        self.stream = stream
        self.url = url or str(options["url"])
        self.body_field = body_field or str(options["body_field"])
        self._commands: Redis | None = None
        self._blocking: Redis | None = None
        """A client of its own for ``XREAD BLOCK``, whose answers may take longer."""
        self._last_id: str | None = None
        """The id of the last entry read (or there when opened); ``None`` until opened."""
        self._missing = False
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"Redis stream {self.stream!r} at {mask_url(self.url)}"

    def broker(self) -> str:
        return server_name(self.url)

    def longest_call(self) -> float:
        # a blocking read of a server that does not answer, then the check that the
        # stream exists
        return 2 * get_settings().connect_timeout + LONGEST_BLOCK

    def open(self) -> None:
        """Note where the stream ends now: only entries added after it are read.

        Raises :class:`QueueNotFound` if the key holds something other than a stream.
        """
        client = self._client()
        kind = self._call("open", client.type, self.stream)
        if kind not in (b"none", b"stream"):
            raise QueueNotFound(
                f"The key {self.stream!r} on {self.broker()} holds a "
                f"{kind.decode('utf-8', 'replace')}, not a stream (alias {self.alias!r}). "
                "Point the alias at the stream the service adds to (setting asyncbdd.queues, "
                "redis:stream/NAME), or use redis:channel/NAME for a pub/sub channel."
            )
        last = self._call("open", client.xrevrange, self.stream, count=1)
        self._missing = kind == b"none"
        self._last_id = last[0][0].decode() if last else "0-0"

    def receive(self, wait: float) -> list[Message]:
        if self._last_id is None:
            self.open()
        assert self._last_id is not None
        block = int(min(wait, LONGEST_BLOCK) * 1000)
        reply = self._call(
            "read from",
            self._reader().xread,
            {self.stream: self._last_id},
            count=BATCH,
            block=block if block > 0 else None,  # BLOCK 0 would wait for ever
        )
        received = time.monotonic()
        entries = [entry for _stream, batch in reply or [] for entry in batch]
        if not entries:
            if self._missing or block > 0:
                self._missing = not self._call("read from", self._client().exists, self.stream)
            return []
        self._missing = False
        self._last_id = entries[-1][0].decode()
        return [self._message(entry_id, fields, received) for entry_id, fields in entries]

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        """Add an entry: the body in the body field, each attribute in a field of its own
        (the correlation id among them, with correlation ``attribute:NAME``)."""
        if key is not None:
            raise InvalidInput(
                f"Redis stream entries have no key; send {self.stream!r} (alias "
                f"{self.alias!r}) a message without one, or put it in a field of the body."
            )
        if self.body_field in attributes:
            raise InvalidInput(
                f"The attribute {self.body_field!r} would overwrite the field that holds the "
                f"body of entries of the Redis stream {self.stream!r} (setting "
                "asyncbdd.redis.body_field); give it another name."
            )
        fields = {self.body_field: body, **attributes}
        self._call("add to", self._client().xadd, self.stream, fields)

    def close(self) -> None:
        """Close its connections; opening it again starts at the stream's end anew."""
        with self._lock:
            clients = [self._commands, self._blocking]
            self._commands = self._blocking = None
            self._last_id = None
        for client in clients:
            if client is not None:
                client.close()

    def problems(self) -> str | None:
        if self._missing:
            return (
                f"the stream {self.stream!r} does not exist on {self.broker()} (yet): "
                "nothing was added to it since asyncbdd began reading; check its name "
                "(setting asyncbdd.queues)"
            )
        return None

    def _message(self, entry_id: bytes, fields: Mapping[bytes, bytes], received: float) -> Message:
        named = {name.decode("utf-8", "replace"): value for name, value in fields.items()}
        body = named.get(self.body_field)
        attributes = {
            name: value.decode("utf-8", "replace")
            for name, value in named.items()
            if name != self.body_field
        }
        milliseconds = entry_id.split(b"-", 1)[0]
        return self.message(
            json.dumps(attributes, ensure_ascii=False) if body is None else body,
            attributes,
            message_id=f"{self.stream}/{entry_id.decode()}",
            sent_at=int(milliseconds) / 1000 if milliseconds.isdigit() else None,
            received_at=received,
        )

    def _client(self) -> Redis:
        with self._lock:
            if self._commands is None:
                self._commands = connect(self.url)
            return self._commands

    def _reader(self) -> Redis:
        with self._lock:
            if self._blocking is None:
                self._blocking = connect(self.url, blocking_for=LONGEST_BLOCK)
            return self._blocking

    def _call(self, action: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (RedisError, OSError) as error:
            raise self._failure(action, error) from None

    def _failure(self, action: str, error: BaseException) -> QueueUnavailable:
        what = f"the Redis stream {self.stream!r}"
        return failure(what, self.alias, self.url, action, error)


def _build(alias: str, target: str) -> Queue:
    """The stream or channel ``redis:stream/NAME`` or ``redis:channel/NAME`` names."""
    kind, slash, name = target.partition("/")
    name = name.strip()
    if slash and name and kind.strip() == "stream":
        return RedisStream(alias, name)
    if slash and name and kind.strip() == "channel":
        return RedisChannel(alias, name)
    raise ConfigurationError(
        f"Queue alias {alias!r} = 'redis:{mask_url(target)}' is not understood (setting "
        f"asyncbdd.queues). Write {FORMS}."
    )


FORMS = "redis:stream/NAME, redis:channel/NAME, redis:channel/PATTERN*"

register_transport(
    Transport(
        scheme="redis",
        build=_build,
        forms=FORMS,
        describes="a Redis stream (read with XREAD, no consumer group) or pub/sub channel",
        options=OPTIONS,
        extra="redis",
        module=__name__,
    )
)
