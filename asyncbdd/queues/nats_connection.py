"""Connections to a NATS server through nats-py: one client on an asyncio event loop of its
own, run in one daemon thread per connection; every call from other threads bounded by
the ``asyncbdd.connect_timeout`` setting; no reconnecting behind the caller's back; and
errors that name the alias, the server (password masked) and the fix. Also the ``nats``
transport's settings.

The server is the ``asyncbdd.nats.url`` setting, ``nats://[user:password@]host:port``
(``tls://`` for TLS; several servers of one cluster separated by commas). A token goes in
``asyncbdd.nats.token``, never in the URL: a URL's lone user name is how NATS spells a
token, and it would show wherever the URL is shown.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext

from asyncbdd.config import get_settings
from asyncbdd.queues.base import BrokerUnreachable, QueueUnavailable
from asyncbdd.queues.transports import Option
from asyncbdd.secrets import MASK, mask_url, mask_urls_in

__all__ = ["DEFAULT_URL", "OPTIONS", "NatsConnection", "ServerAddress", "shown_url"]

DEFAULT_URL = "nats://127.0.0.1:4222"
SCHEMES = ("nats", "tls")
CLOSE_WAIT = 1.0
"""Seconds closing a connection may wait for the server's goodbye, and then for the
client's tasks to end."""
HANDOFF_SLACK = 0.5
"""Seconds a caller waits beyond a call's own bound for the event loop to hand back its
outcome (the loop thread is never busy for long, but a loaded machine is slow)."""

T = TypeVar("T")


@dataclass(frozen=True)
class ServerAddress:
    """Where the NATS servers are and who connects: the ``asyncbdd.nats.url`` setting read,
    and the token of ``asyncbdd.nats.token``."""

    url: str
    servers: tuple[str, ...]
    token: str | None = None

    @classmethod
    def parse(cls, text: str, token: str | None = None) -> ServerAddress:
        """The address ``text`` names; ``ValueError`` saying what to write if it names none."""
        servers = tuple(part.strip() for part in text.split(",") if part.strip())
        if not servers:
            raise ValueError(f"it names no server; write {DEFAULT_URL}")
        for server in servers:
            _check_server(server)
        for server in servers:
            parts = urlsplit(server if "://" in server else f"nats://{server}")
            if parts.username is not None and parts.password is None:
                raise ValueError(
                    "it has a user name without a password, which NATS takes as a token: "
                    "a token there would show wherever the URL is shown; set it in "
                    "asyncbdd.nats.token instead"
                )
        return cls(url=",".join(servers), servers=servers, token=token or None)

    @property
    def shown(self) -> str:
        """The URL as output shows it: passwords (and a token in it) masked."""
        return shown_url(self.url)

    def __str__(self) -> str:
        return f"NATS server at {self.shown}"


def checked_url(text: str) -> str:
    """``text`` if it names NATS servers (setting ``asyncbdd.nats.url``).

    A token in it is refused where the queue is made, not here: the refusal of a setting
    quotes its value.
    """
    for server in text.split(","):
        if server.strip():
            _check_server(server.strip())
    if not text.strip(","):
        raise ValueError(f"it names no server; write {DEFAULT_URL}")
    return text.strip()


def shown_url(text: str) -> str:
    """NATS server URLs as output shows them: passwords masked, and a lone user name too
    (NATS takes it for a token)."""
    shown = []
    for server in text.split(","):
        masked = mask_url(server.strip())
        scheme, slashes, rest = masked.partition("://")
        userinfo, at, host = rest.rpartition("@")
        if slashes and at and ":" not in userinfo:
            masked = f"{scheme}://{MASK}@{host}"
        shown.append(masked)
    return ",".join(shown)


OPTIONS = {
    "url": Option(
        DEFAULT_URL,
        "the NATS server: nats://[user:password@]host:port, tls:// for TLS; a cluster's "
        "servers separated by commas",
        checked_url,
    ),
    "token": Option(
        "",
        "the token a server started with --auth wants (empty: none)",
        secret=True,
    ),
}
"""The ``nats`` transport's settings, ``asyncbdd.nats.NAME``."""


class NatsConnection:
    """One client connection, its event loop and the thread that runs it.

    :meth:`connect` makes it (within the connect timeout) or raises; :meth:`call` runs a
    coroutine on its loop and waits for its outcome, bounded; :meth:`close` ends client,
    loop and thread. A connection lost is never made again: :attr:`lost` says so, and
    ``on_lost`` (called on the loop's thread) lets a reader blocked on its messages know.
    """

    def __init__(
        self,
        address: ServerAddress,
        *,
        what: str,
        alias: str,
        on_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.address = address
        self.what = what
        """What it is for, in messages: ``the NATS subject 'orders.*'``."""
        self.alias = alias
        self._on_lost = on_lost
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._closing = False
        self.lost_reason: str | None = None
        """Why the connection was lost, once it is."""
        self.problems: list[str] = []
        """What the client reported while connected (a slow consumer), newest last."""
        self.connected_at: float | None = None

    @property
    def lost(self) -> bool:
        """Whether the connection was lost (the server went away, or stopped answering)."""
        return self.lost_reason is not None

    @property
    def client(self) -> Client:
        """The nats-py client (for coroutines run by :meth:`call`)."""
        assert self._client is not None, "connect() first"
        return self._client

    def jetstream(self) -> JetStreamContext:
        """A JetStream context whose API requests wait at most the connect timeout."""
        return self.client.jetstream(timeout=get_settings().connect_timeout)

    def connect(self) -> None:
        """Connect, within the connect timeout; raise :class:`BrokerUnreachable` for a
        server that refuses or does not answer, :class:`QueueUnavailable` for one that
        refuses the credentials."""
        seconds = get_settings().connect_timeout
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name=f"asyncbdd-nats-{self.alias}", daemon=True
        )
        self._thread.start()
        try:
            self._client = self.call(self._connected(seconds), seconds, "connect to")
        except BaseException:
            self.close()
            raise
        self.connected_at = time.monotonic()

    def call(self, coroutine: Coroutine[Any, Any, T], seconds: float, action: str) -> T:
        """What ``coroutine`` returns, run on the connection's loop; it may take
        ``seconds`` (it is cancelled after that, and :class:`BrokerUnreachable` raised)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            raise self.unreachable(action, "the connection is closed")
        future = asyncio.run_coroutine_threadsafe(
            asyncio.wait_for(coroutine, max(seconds, 0.001)), loop
        )
        try:
            return future.result(seconds + HANDOFF_SLACK)
        except (TimeoutError, concurrent.futures.TimeoutError, asyncio.TimeoutError):
            future.cancel()
            raise self.unreachable(action, f"no answer within {seconds:g} s") from None

    def ping(self, seconds: float) -> None:
        """Check the server answers within ``seconds`` (a PING and its PONG); a server
        that does not is taken as lost, and :class:`BrokerUnreachable` raised."""
        try:
            self.call(self.client.flush(timeout=seconds), seconds, "ping")  # type: ignore[arg-type]
        except (BrokerUnreachable, nats.errors.Error) as error:
            reason = (
                f"no answer to a ping within {seconds:g} s"
                if isinstance(error, (BrokerUnreachable, nats.errors.TimeoutError))
                else describe_error(error)
            )
            self._lose(reason)
            raise self.unreachable("read from", reason) from None

    def close(self) -> None:
        """Close client, loop and thread, within about 3 x :data:`CLOSE_WAIT` seconds;
        never raises."""
        self._closing = True
        loop, thread = self._loop, self._thread
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(Exception):  # a loop that does not answer: stop it anyway
            asyncio.run_coroutine_threadsafe(self._shut_down(), loop).result(
                3 * CLOSE_WAIT + HANDOFF_SLACK
            )
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(CLOSE_WAIT)
        if thread is None or not thread.is_alive():
            loop.close()

    def unreachable(self, action: str, reason: str) -> BrokerUnreachable:
        """The error of a server that did not answer while trying to ``action``."""
        return BrokerUnreachable(
            f"{self.address} did not answer ({reason}) when asyncbdd tried to {action} "
            f"{self.what} (alias {self.alias!r}). Check that the server runs and is not "
            "stopped or overloaded, and that asyncbdd.nats.url is right; "
            "asyncbdd.connect_timeout bounds how long to try.",
            broker=str(self.address),
            reason=reason,
            since=self.connected_at,
        )

    def failed(self, action: str, error: BaseException) -> QueueUnavailable:
        """The error of a call the server answered with an error, or a lost connection."""
        if isinstance(error, (nats.errors.ConnectionClosedError, nats.errors.TimeoutError)):
            return self.unreachable(action, self.lost_reason or describe_error(error))
        return QueueUnavailable(
            f"Could not {action} {self.what} (alias {self.alias!r}) at {self.address.shown}: "
            f"{describe_error(error)}. Check that asyncbdd.nats.url is right and that its "
            "user may do that."
        )

    async def _connected(self, seconds: float) -> Client:
        """A connected client, or the error that says why there is none."""
        met: list[BaseException] = []
        connecting = True

        async def on_error(error: Exception) -> None:
            if connecting:
                met.append(error)
            elif not isinstance(error, nats.errors.ConnectionClosedError):
                self.problems.append(describe_error(error))

        async def on_gone() -> None:
            if not self._closing and self.lost_reason is None:
                last = self._client.last_error if self._client is not None else None
                self._lose(
                    "the server closed the connection"
                    if last is None
                    else f"the connection was lost: {describe_error(last)}"
                )

        try:
            client = await asyncio.wait_for(
                nats.connect(
                    list(self.address.servers),
                    name=f"asyncbdd {self.alias}",
                    connect_timeout=seconds,
                    # One attempt (two quick ones at a refusing server), never a reconnect:
                    # a lost connection is reported, and the reader makes a new one.
                    allow_reconnect=False,
                    max_reconnect_attempts=1,
                    reconnect_time_wait=0,
                    token=self.address.token,
                    error_cb=on_error,
                    disconnected_cb=on_gone,
                    closed_cb=on_gone,
                ),
                seconds,
            )
        except asyncio.TimeoutError:
            raise self.unreachable("connect to", f"no answer within {seconds:g} s") from None
        except (OSError, nats.errors.Error) as error:
            cause = met[-1] if isinstance(error, nats.errors.NoServersError) and met else error
            if "authorization violation" in str(cause).lower():
                raise self._refused() from None
            raise self.unreachable("connect to", describe_error(cause)) from None
        connecting = False
        return client

    def _refused(self) -> QueueUnavailable:
        return QueueUnavailable(
            f"{self.address} refused the credentials (Authorization Violation) of "
            f"{self.what} (alias {self.alias!r}). Check the user and password in "
            "asyncbdd.nats.url, or the token in asyncbdd.nats.token."
        )

    def _lose(self, reason: str) -> None:
        if self.lost_reason is None:
            self.lost_reason = reason
            self._on_lost()

    async def _shut_down(self) -> None:
        client = self._client
        if client is not None and not client.is_closed:
            # A server that does not answer: the client's tasks are cancelled below.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), CLOSE_WAIT)
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=CLOSE_WAIT)
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.shutdown_default_executor(), CLOSE_WAIT)


def headers_of(message: Msg) -> dict[str, str]:
    """A message's NATS headers, as text: its attributes."""
    return dict(message.headers or {})  # nats-py reads every name and value as text


def describe_error(error: BaseException) -> str:
    """What an error met on the way to the server says, shortly, secrets masked."""
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, (asyncio.TimeoutError, TimeoutError)) and not str(error):
        return "timed out"
    description = getattr(error, "description", None)  # a JetStream API error's own words
    text = str(description or error).strip() or type(error).__name__
    return mask_urls_in(text.removeprefix("nats: "))


def send_headers(attributes: Mapping[str, str]) -> dict[str, str] | None:
    """The NATS headers of a message sent with ``attributes`` (none if empty)."""
    return dict(attributes) or None


def _check_server(server: str) -> None:
    try:
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        port = parts.port  # raises for a port that is no number
    except ValueError:
        raise ValueError(
            "write nats://[user:password@]host:port (tls:// for TLS), e.g. " + DEFAULT_URL
        ) from None
    if parts.scheme not in SCHEMES:
        raise ValueError(
            "write nats://[user:password@]host:port (tls:// for TLS), e.g. " + DEFAULT_URL
        )
    if not parts.hostname:
        raise ValueError(f"it names no host; write {parts.scheme}://HOST:PORT")
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"port {port} is out of range")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError(
            "it has a path or a query, which a NATS server's address has not; the subject "
            "or stream goes in the alias (nats:subject/SUBJECT, nats:stream/STREAM)"
        )
