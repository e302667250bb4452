"""Connections to a Redis server, shared by its streams and channels: every call bounded
by the ``asyncbdd.connect_timeout`` setting, no retries hidden inside the client, and
errors that name the alias, the server (password masked) and the fix.

The server is the ``asyncbdd.redis.url`` setting, ``redis://[[user]:password@]host:port/db``
(``rediss://`` for TLS, ``unix:///path.sock``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from redis import Redis
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    ConnectionError,
    NoPermissionError,
    RedisError,
    TimeoutError,
)
from redis.retry import Retry

from asyncbdd.config import get_settings
from asyncbdd.queues.base import BrokerUnreachable, QueueUnavailable
from asyncbdd.queues.transports import Option
from asyncbdd.secrets import mask_url, mask_urls_in

__all__ = ["DEFAULT_URL", "OPTIONS", "SCHEMES", "checked_url", "connect", "failure", "server_name"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"
SCHEMES = ("redis", "rediss", "unix")


def checked_url(text: str) -> str:
    """``text`` if it is a Redis URL; ``ValueError`` saying what to write if not (the
    setting ``asyncbdd.redis.url``)."""
    url = text.strip()
    try:
        parts = urlsplit(url)
        port = parts.port  # raises for a port that is no number
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in SCHEMES:
        raise ValueError(
            "write redis://[[user]:password@]host:port/db (rediss:// for TLS, unix:///path "
            "for a socket), e.g. redis://127.0.0.1:6379/0"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ValueError(f"it names no host; write {parts.scheme}://HOST:PORT/DB")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    database = parts.path.strip("/")
    if parts.scheme != "unix" and database and not database.isdigit():
        raise ValueError(f"the database {database!r} is not a number; write /0, /1 ...")
    return url


def checked_field(text: str) -> str:
    """``text`` if it can name a stream entry's field; ``ValueError`` if not."""
    if not text.strip():
        raise ValueError("write the name of the field that holds the body, e.g. body")
    return text.strip()


def checked_channel_correlation(text: str) -> str:
    """``text`` if it can say where a channel's messages carry the correlation id (they
    have a body only); ``ValueError`` saying what to write if not."""
    spec = text.strip()
    kind, _, path = spec.partition(":")
    if spec in ("", "off") or (kind == "field" and path.strip()):
        return spec
    raise ValueError(
        "write field:PATH (the id in a field of the JSON body, e.g. field:correlation_id) "
        "or off: a channel's messages have a body only, no attributes"
    )


OPTIONS = {
    "url": Option(
        DEFAULT_URL,
        "the Redis server: redis://[[user]:password@]host:port/db, rediss:// for TLS",
        checked_url,
    ),
    "body_field": Option(
        "body",
        "the field of a stream entry that holds the body; an entry without it is read as "
        "a JSON object of all its fields",
        checked_field,
    ),
    "channel_correlation": Option(
        "",
        "where a channel's messages carry the correlation id, field:PATH or off (empty: "
        "as asyncbdd.queues.correlation)",
        checked_channel_correlation,
    ),
}
"""The ``redis`` transport's settings, ``asyncbdd.redis.NAME`` (``ASYNCBDD_REDIS_NAME``)."""


def connect(url: str, *, blocking_for: float = 0.0, reconnect: bool = True) -> Redis:
    """A client of the server at ``url`` whose every call is bounded: connecting by the
    ``asyncbdd.connect_timeout`` setting, each answer by it plus ``blocking_for`` (the
    longest a blocking read it makes may wait on the server's side).

    With ``reconnect``, a call whose connection the server closed (a restarted server)
    is made once more on a new one; a server that does not answer in time is never asked
    twice (redis-py's default is ten tries with back-off): the readers retry on their own,
    and a step fails within the connect timeout.
    """
    timeout = get_settings().connect_timeout
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout,
        socket_timeout=timeout + blocking_for,
        retry=Retry(NoBackoff(), 1 if reconnect else 0, supported_errors=(ConnectionError,)),
        retry_on_error=[],
        health_check_interval=0,
        client_name="asyncbdd",
    )


def server_name(url: str) -> str:
    """The server, for messages: ``Redis at redis://:***@127.0.0.1:6379/0``."""
    return f"Redis at {mask_url(url)}"


def failure(what: str, alias: str, url: str, action: str, error: BaseException) -> QueueUnavailable:
    """The error to raise for ``error``, met when trying to ``action`` ``what`` (``the
    Redis stream 'orders'``) of the alias ``alias``.

    A server that refused the connection or did not answer in time is
    :class:`~asyncbdd.queues.base.BrokerUnreachable` (readers keep trying); refused
    credentials and other answers are :class:`~asyncbdd.queues.base.QueueUnavailable`.
    """
    server = server_name(url)
    said = mask_urls_in(str(error) or type(error).__name__)
    if isinstance(error, (AuthenticationError, AuthorizationError, NoPermissionError)):
        return QueueUnavailable(
            f"Could not {action} {what} (alias {alias!r}): {server} refused the credentials "
            f"or the permissions ({said}). Check the user and password in asyncbdd.redis.url "
            "(redis://USER:PASSWORD@HOST:PORT/DB), and that the user may read and write the key."
        )
    if isinstance(error, (ConnectionError, TimeoutError, OSError)):
        reason = _unanswered(error, said)
        return BrokerUnreachable(
            f"Could not {action} {what} (alias {alias!r}): {server} did not answer "
            f"({reason}: {said}). Check that the server runs and is not stopped or "
            "overloaded, and that asyncbdd.redis.url names it; asyncbdd.connect_timeout "
            "bounds each attempt.",
            broker=server,
            reason=reason,
        )
    kind = type(error).__name__ if isinstance(error, RedisError) else repr(error)
    return QueueUnavailable(
        f"Could not {action} {what} (alias {alias!r}) at {server}: {kind}: {said}. Check "
        "the server's configuration and asyncbdd.redis.url."
    )


def _unanswered(error: BaseException, said: str) -> str:
    """How a server failed to answer, from the client's error."""
    if isinstance(error, TimeoutError) or "timeout" in said.lower():
        return "no answer in time"
    if "refused" in said.lower():
        return "connection refused"
    if "connecting" in said.lower():
        return "could not connect"
    return "connection lost"
