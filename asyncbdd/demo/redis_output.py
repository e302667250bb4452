"""The demo service's Redis output: the messages of paid orders
(:mod:`asyncbdd.demo.order_messages`) as entries of Redis streams, one stream per queue.

Each entry holds the JSON body in its ``body`` field and each text attribute
(``event_type``, ``correlation_id``) in a field of its own, added with ``XADD``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from asyncbdd.demo.errors import TransportError
from asyncbdd.demo.order_messages import QUEUES

__all__ = ["RedisOutput", "RedisSender"]


@dataclass(frozen=True)
class RedisOutput:
    """Where the service adds its stream entries: a Redis server and a stream per queue.

    :param url: the server, ``redis://[:password@]host:port/db``.
    :param streams: the stream of each queue of :data:`~asyncbdd.demo.order_messages.QUEUES`
        (default: the queue's name).
    """

    url: str = "redis://127.0.0.1:6379/0"
    streams: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.streams) - set(QUEUES))
        if unknown:
            raise ValueError(
                f"RedisOutput(streams=...) names unknown queues {', '.join(unknown)}; the "
                f"queues are {', '.join(QUEUES)}"
            )
        object.__setattr__(self, "streams", {q: self.streams.get(q, q) for q in QUEUES})

    def sender(self, *, connect_timeout: float) -> RedisSender:
        """A sender to these streams, on a connection of its own."""
        return RedisSender(self, connect_timeout=connect_timeout)


class RedisSender:
    """Adds the demo's messages to Redis streams."""

    def __init__(self, output: RedisOutput, *, connect_timeout: float) -> None:
        self._streams = dict(output.streams)
        try:
            self._redis: Any = importlib.import_module("redis")  # only a Redis output needs it
        except ModuleNotFoundError:
            raise TransportError(
                "Redis output: the redis package is not installed: pip install 'asyncbdd[redis]'"
            ) from None
        try:
            self._client = self._redis.Redis.from_url(
                output.url, socket_connect_timeout=connect_timeout, socket_timeout=connect_timeout
            )
        except ValueError as error:
            raise TransportError(f"Redis output: {error}; fix the URL") from error

    def send(self, queue: str, body: str, attributes: Mapping[str, str]) -> None:
        try:
            self._client.xadd(self._streams[queue], {"body": body, **attributes})
        except self._redis.RedisError as error:
            stream = self._streams[queue]
            raise TransportError(f"adding to the Redis stream {stream!r}: {error}") from error

    def close(self) -> None:
        self._client.close()
