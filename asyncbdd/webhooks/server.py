"""The capture server: an HTTP server in threads of this process that reads every request
and hands it to a dispatcher, which records it and says how to answer.

It knows nothing of receivers or scenarios (see :mod:`asyncbdd.webhooks.receivers`): it
reads bodies up to a limit, answers after the delay the dispatcher asks for, and never
raises into the void: an exception while handling a request is answered 500 and handed to
``on_error``, so that the test thread can raise it.

A body is framed by ``Content-Length`` or ``Transfer-Encoding: chunked``; a request with
neither has an empty body (RFC 9112, 6.3: requests are never delimited by closing the
connection). A body over the limit is not read past the limit: its request is handed on
with ``oversize`` set (the dispatcher answers 413), and a client that asked
``Expect: 100-continue`` is not told to send it. Malformed framing (a negative, non-numeric
or contradictory length, a chunk size that is no hex number, a body cut short, a transfer
coding other than chunked) is answered 400 and not handed on. After either answer the
connection closes *lingering*: the server ends its side, then reads and drops what the
client still sends, at most :data:`DRAIN_BYTES` for :data:`DRAIN_SECONDS`, so that a client
busy sending its body reads the answer rather than a reset connection.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import re
import socket
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any

from asyncbdd.errors import AsyncBddError
from asyncbdd.infra.run_scoped import EmbeddedService

__all__ = ["Request", "Response", "WebhookServer", "WebhookServerError", "is_loopback"]

IDLE_CONNECTION_SECONDS = 60
"""A kept-alive connection that sends nothing for this long is closed."""
REQUEST_SECONDS = 10.0
"""Longest a request may take to arrive, head and body, from its first byte: a client
that trickles it (a slow loris) is disconnected then, and frees its thread."""
STOP_SECONDS = 5.0
"""Longest :meth:`WebhookServer.stop` waits for the server's threads to end."""
DRAIN_BYTES = 16 * 1024 * 1024
"""Most bytes read and dropped after refusing a request whose body was not read."""
DRAIN_SECONDS = 2.0
"""Longest time spent reading and dropping them."""
MAX_CHUNK_LINE = 1024
"""Longest chunk size line (with its extensions), in bytes."""
MAX_TRAILERS = 64 * 1024
"""Most bytes of trailers after the last chunk."""

_DIGITS = re.compile(r"[0-9]+")
_HEX_DIGITS = re.compile(rb"[0-9A-Fa-f]+")


class WebhookServerError(AsyncBddError):
    """The capture server could not start, or was used in the wrong state."""


@dataclass(frozen=True)
class Request:
    """What the server read of one request.

    ``body`` is empty and ``oversize`` holds the body's size (as far as it is known: its
    Content-Length, or the chunks up to the one that passed the limit) when it is larger
    than the limit; ``received_at`` is when the body had been read.
    """

    method: str
    path: str
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    received_at: float
    oversize: int | None = None


@dataclass(frozen=True)
class Response:
    """How to answer: status, body and its content type, and a delay before answering."""

    status: int
    body: bytes = b""
    content_type: str | None = None
    delay: float = 0.0


Dispatch = Callable[[Request], Response]
OnError = Callable[[Request | None, BaseException], None]


class WebhookServer(EmbeddedService):
    """An HTTP server on ``host``:``port`` (0: a free port) that hands requests to
    ``dispatch``; use as a context manager, or call :meth:`start` and :meth:`stop`.

    ``body_limit`` gives the largest body read, in bytes, when a request arrives.
    Listening on anything but a loopback address warns, as other machines can reach it.
    """

    def __init__(
        self,
        dispatch: Dispatch,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        body_limit: Callable[[], int] = lambda: 1024 * 1024,
        on_error: OnError | None = None,
    ) -> None:
        self.dispatch, self.host, self.port = dispatch, host, port
        self.body_limit, self.on_error = body_limit, on_error
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        """Whether the server was started and has not been stopped."""
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running server (a wildcard host reads as loopback)."""
        server = self._server
        if server is None:
            raise WebhookServerError(
                "The webhook capture server has no URL because it is not running; call "
                "start() first, or use it as a context manager."
            )
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{server.server_address[1]}"

    def serves(self, host: str, port: int) -> bool:
        """Whether it runs on ``host`` and on ``port`` (any port for 0)."""
        server = self._server
        return server is not None and host == self.host and port in (0, server.server_address[1])

    def start(self) -> str:
        """Start serving in a background thread; return :attr:`url`.

        Raises :class:`WebhookServerError` when it runs already or the port is taken.
        """
        with self._lock:
            if self._server is not None:
                raise WebhookServerError(
                    f"The webhook capture server is already running at {self.url}; call "
                    "stop() before starting it again."
                )
            if not is_loopback(self.host):
                warnings.warn(
                    f"The webhook capture server listens on {self.host}, so other machines "
                    "can call it; listen on 127.0.0.1 (setting asyncbdd.webhooks.host) "
                    "unless the system under test runs elsewhere.",
                    stacklevel=2,
                )
            try:
                server = _HttpServer((self.host, self.port), self)
            except OSError as error:
                raise WebhookServerError(
                    f"The webhook capture server cannot listen on {self.host}:{self.port} "
                    f"({error.strerror or error}); choose another port (setting "
                    "asyncbdd.webhooks.port), or 0 for a free one."
                ) from None
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.1},  # how soon stop() is noticed
                name="asyncbdd-webhooks",
                daemon=True,
            )
            thread.start()
            self._server, self._thread = server, thread
        return self.url

    def stop(self) -> None:
        """Stop serving, close the port and every open connection, and wait for the
        threads that served them to end (at most :data:`STOP_SECONDS`); a stopped server
        stays stopped."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        deadline = time.monotonic() + STOP_SECONDS
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections(until=deadline)
        if thread is not None:
            thread.join(max(deadline - time.monotonic(), 0.0))

    def __repr__(self) -> str:
        state = f"running at {self.url}" if self.running else "stopped"
        return f"<WebhookServer {state}>"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # socketserver's 5 resets connections of busy senders

    def __init__(self, address: tuple[str, int], owner: WebhookServer) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.owner = owner
        self.stopping = threading.Event()
        self._connections: dict[socket.socket, threading.Thread] = {}
        """Each open connection, and the thread serving it."""
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                thread = self._connections[connection] = threading.current_thread()
                thread.name = f"asyncbdd-webhooks-{self.server_address[1]}-connection"
            else:
                self._connections.pop(connection, None)
        if open_ and self.stopping.is_set():  # accepted while the server was stopping
            _shut(connection)

    def close_connections(self, *, until: float) -> None:
        """Shut every open connection down, and wait until the monotonic time ``until``
        for the threads serving them to end (a kept-alive one waits for a next request)."""
        with self._connections_lock:
            connections = dict(self._connections)
        for connection in connections:
            _shut(connection)
        for thread in connections.values():
            if thread is not threading.current_thread():  # stop() called by a handler
                thread.join(max(until - time.monotonic(), 0.0))

    def handle_error(self, request: Any, client_address: Any) -> None:
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, (ConnectionError, TimeoutError)):
            _report(self.owner, None, error)


class _BadFraming(Exception):
    """The request's body cannot be told apart from what follows it: answered 400."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.1"  # even a garbled request line gets a status line
    timeout = IDLE_CONNECTION_SECONDS
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self._paced = _Paced(self.connection, IDLE_CONNECTION_SECONDS)
        self.rfile = io.BufferedReader(self._paced)
        self.server.track(self.connection, open_=True)

    def handle_one_request(self) -> None:
        self._paced.deadline = None  # the next request's clock starts at its first byte
        super().handle_one_request()  # a read past the deadline closes the connection

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are recorded, not logged

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):  # every method is captured: POST, PUT, GET...
            return self._handle
        raise AttributeError(name)

    def handle_expect_100(self) -> bool:
        try:
            length, _ = self._framing()
        except _BadFraming:
            return True  # answered 400 straight away: the client need not send the body
        if length is not None and length > self.server.owner.body_limit():
            return True  # answered 413 straight away, likewise
        return super().handle_expect_100()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        super().send_error(code, message, explain)  # a request line or header too long...
        self._linger()  # ...whose rest is still coming

    def _handle(self) -> None:
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        headers = tuple(self.headers.items())
        length: int | None = None
        try:
            length, chunked = self._framing()
            limit = owner.body_limit()
            if chunked:
                body, oversize = _read_chunked(self.rfile, limit)
            else:
                body, oversize = self._read_length(length, limit)
        except _BadFraming as error:
            self._answer(Response(400, f"{error}\n".encode(), "text/plain"), close=True)
            self._linger()
            return
        request = Request(self.command, path, query, headers, body, time.monotonic(), oversize)
        try:
            response = owner.dispatch(request)
        except Exception as error:
            _report(owner, request, error)
            response = Response(500, b"The asyncbdd capture server failed.\n", "text/plain")
        if response.delay > 0:
            self.server.stopping.wait(response.delay)
        self._answer(response, close=oversize is not None)
        if oversize is not None:
            self._linger(length)

    def _framing(self) -> tuple[int | None, bool]:
        """The body's Content-Length (None: not given) and whether it is chunked.

        Raises :class:`_BadFraming` when the headers do not tell where the body ends.
        """
        codings_given = self.headers.get_all("Transfer-Encoding")
        lengths = [
            part.strip()
            for value in self.headers.get_all("Content-Length") or []
            for part in str(value).split(",")
        ]
        if codings_given is not None:
            given = ", ".join(str(value) for value in codings_given)
            codings = [part.strip().lower() for part in given.split(",") if part.strip()]
            if lengths:
                raise _BadFraming(
                    "A request carries Transfer-Encoding or Content-Length, not both."
                )
            if not codings or codings[-1] != "chunked":
                raise _BadFraming(
                    f"Transfer-Encoding {given!r} does not end in chunked, so where the body "
                    "ends is unknown."
                )
            return None, True
        if not lengths:
            return None, False
        for text in lengths:
            if not _DIGITS.fullmatch(text):
                raise _BadFraming(f"Content-Length {text[:40]!r} is not a number of bytes.")
            if len(text.lstrip("0")) > 19:
                raise _BadFraming(f"Content-Length {text[:40]!r}... is no length of a body.")
        found = sorted({int(text) for text in lengths})
        if len(found) > 1:
            raise _BadFraming(
                f"Content-Length gives several lengths ({', '.join(map(str, found))})."
            )
        return found[0], False

    def _read_length(self, length: int | None, limit: int) -> tuple[bytes, int | None]:
        if length is None:
            return b"", None
        if length > limit:
            return b"", length
        body = self.rfile.read(length)
        if len(body) < length:
            raise _BadFraming(
                f"The body ended after {len(body):,} of the {length:,} bytes of its Content-Length."
            )
        return body, None

    def _linger(self, remaining: int | None = None) -> None:
        """Close after an answer to a request whose body was not read, or not whole: end
        the sending side, then read and drop what the client still sends (``remaining``
        bytes when known, at most :data:`DRAIN_BYTES`, for :data:`DRAIN_SECONDS` at most),
        so that it reads the answer rather than a reset connection."""
        self.close_connection = True
        budget = DRAIN_BYTES if remaining is None else min(remaining, DRAIN_BYTES)
        deadline = time.monotonic() + DRAIN_SECONDS
        self._paced.deadline = deadline
        with contextlib.suppress(OSError, ValueError):  # reset, timed out, or closed
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            while budget > 0 and not self.server.stopping.is_set():
                dropped = self.rfile.read1(min(budget, 64 * 1024))
                if not dropped:
                    break
                budget -= len(dropped)

    def _answer(self, response: Response, *, close: bool) -> None:
        try:
            self.send_response(response.status)
            if response.content_type:
                self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(response.body)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            self.wfile.flush()
        except (ConnectionError, TimeoutError):  # the client gave up waiting
            self.close_connection = True


class _Paced(io.RawIOBase):
    """A connection's bytes: each read waits at most ``idle`` seconds, and none goes past
    the :attr:`deadline`, set :data:`REQUEST_SECONDS` after a request's first byte."""

    def __init__(self, connection: socket.socket, idle: float) -> None:
        self.connection, self.idle = connection, idle
        self.deadline: float | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wait = self.idle if self.deadline is None else self.deadline - time.monotonic()
        if wait <= 0:
            raise TimeoutError("the request took too long to arrive")
        self.connection.settimeout(min(wait, self.idle))
        count = self.connection.recv_into(buffer)
        if count and self.deadline is None:
            self.deadline = time.monotonic() + REQUEST_SECONDS
        return count


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed by the client meanwhile
        connection.shutdown(socket.SHUT_RDWR)


def _read_chunked(stream: BufferedIOBase, limit: int) -> tuple[bytes, int | None]:
    """The body of chunks, and None; or ``b""`` and the size so far as soon as the chunks
    pass ``limit`` (the rest is not read)."""
    body = bytearray()
    while True:
        length = _chunk_size(stream.readline(MAX_CHUNK_LINE + 1))
        if length == 0:
            break
        if len(body) + length > limit:
            return b"", len(body) + length
        chunk = stream.read(length)
        if len(chunk) < length:
            raise _BadFraming("The body ended inside a chunk, before its last chunk.")
        body += chunk
        end = stream.readline(3)
        if end not in (b"\r\n", b"\n"):
            raise _BadFraming(
                "The body ended before its last chunk."
                if not end
                else f"A chunk is longer than its size ({length:,} bytes) says."
            )
    _skip_trailers(stream)
    return bytes(body), None


def _chunk_size(line: bytes) -> int:
    if not line:
        raise _BadFraming("The body ended before its last chunk.")
    if len(line) > MAX_CHUNK_LINE:
        raise _BadFraming(f"A chunk size line is longer than {MAX_CHUNK_LINE:,} bytes.")
    if not line.endswith(b"\n"):
        raise _BadFraming("The body ended inside a chunk size line.")
    size = line.split(b";", 1)[0].strip(b" \t\r\n")
    if not _HEX_DIGITS.fullmatch(size):
        raise _BadFraming(
            f"Malformed chunk size {line[:40]!r}: a chunk size is a hexadecimal number."
        )
    return int(size, 16)


def _skip_trailers(stream: BufferedIOBase) -> None:
    read = 0
    while True:
        line = stream.readline(MAX_CHUNK_LINE + 1)
        if line in (b"\r\n", b"\n", b""):  # b"": closed after the last chunk
            return
        read += len(line)
        if read > MAX_TRAILERS:
            raise _BadFraming(f"The trailers after the last chunk pass {MAX_TRAILERS:,} bytes.")


def _report(owner: WebhookServer, request: Request | None, error: BaseException) -> None:
    if owner.on_error is not None:
        owner.on_error(request, error)
