"""The capture server: an HTTP server in threads of this process that reads every request
and hands it to a dispatcher, which records it and says how to answer.

It knows nothing of receivers or scenarios (see :mod:`asyncbdd.webhooks.receivers`): it
reads bodies up to a limit (a larger one is not read, and the connection closes after the
answer), answers after the delay the dispatcher asks for, and never raises into the void:
an exception while handling a request is answered 500 and handed to ``on_error``, so that
the test thread can raise it.
"""

from __future__ import annotations

import contextlib
import ipaddress
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
STOP_SECONDS = 5.0
"""Longest :meth:`WebhookServer.stop` waits for the server's threads to end."""


class WebhookServerError(AsyncBddError):
    """The capture server could not start, or was used in the wrong state."""


@dataclass(frozen=True)
class Request:
    """What the server read of one request.

    ``body`` is empty and ``oversize`` holds the body's size (as far as it is known) when
    it is larger than the limit; ``received_at`` is when the body had been read.
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
                self._connections[connection] = threading.current_thread()
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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        return  # requests are recorded, not logged

    def __getattr__(self, name: str) -> Callable[[], None]:
        if name.startswith("do_"):  # every method is captured: POST, PUT, GET...
            return self._handle
        raise AttributeError(name)

    def _handle(self) -> None:
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        headers = tuple(self.headers.items())
        try:
            body, oversize = self._read_body(owner.body_limit())
        except ValueError as error:
            self._answer(Response(400, f"{error}\n".encode(), "text/plain"), close=True)
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

    def _read_body(self, limit: int) -> tuple[bytes, int | None]:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return _read_chunked(self.rfile, limit)
        text = self.headers.get("Content-Length")
        if text is None:
            return b"", None
        if not text.strip().isdigit():
            raise ValueError(f"Content-Length {text!r} is not a number of bytes.")
        length = int(text)
        if length > limit:
            return b"", length
        return self.rfile.read(length), None

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


def _shut(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):  # closed by the client meanwhile
        connection.shutdown(socket.SHUT_RDWR)


def _read_chunked(stream: BufferedIOBase, limit: int) -> tuple[bytes, int | None]:
    parts: list[bytes] = []
    size = 0
    while True:
        line = stream.readline(1024)
        try:
            length = int(line.split(b";")[0].strip(), 16)
        except ValueError:
            raise ValueError(f"Malformed chunk size {line[:40]!r}.") from None
        if length == 0:
            break
        size += length
        if size > limit:
            return b"", size
        parts.append(stream.read(length))
        stream.readline()  # the CRLF after the chunk
    while stream.readline(1024) not in (b"\r\n", b"\n", b""):  # trailers
        pass
    return b"".join(parts), None


def _report(owner: WebhookServer, request: Request | None, error: BaseException) -> None:
    if owner.on_error is not None:
        owner.on_error(request, error)
