"""A tiny local webhook receiver for the demo's tests, on the standard library's http.server.

It records every request it gets and answers each as it was told, in turn; waiting for
calls wakes on a condition variable as they arrive, never on a fixed sleep.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from demo_client import TIMEOUT

DROP = "drop"
"""An answer: close the connection without answering (a connection error for the caller)."""

HANG = "hang"
"""An answer: hold the request, unanswered, until the receiver stops."""

Answer = int | str
"""An HTTP status to answer with, or :data:`DROP` or :data:`HANG`."""


@dataclass(frozen=True)
class Call:
    """One request the receiver got."""

    method: str
    path: str
    headers: dict[str, str]
    """Header values by lower-case name, as http.server decodes them (ISO-8859-1)."""
    body: bytes
    arrived: float
    """``time.monotonic()`` when the body was read."""
    arrived_at: datetime
    """The UTC time when the body was read."""

    def json(self) -> Any:
        """The body, decoded as JSON."""
        return json.loads(self.body)


class WebhookReceiver:
    """Records the requests sent to :attr:`url` and answers them with ``answers`` in turn,
    then with 200.

    Use it as a context manager: it listens on a free loopback port until the block ends.
    """

    def __init__(self, answers: Iterable[Answer] = (), *, path: str = "/hooks") -> None:
        self._answers = list(answers)
        self._path = path
        self._calls: list[Call] = []
        self._arrived = threading.Condition()
        self._release = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> WebhookReceiver:
        """Start listening."""
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Release held requests and stop listening."""
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        """The URL to register, such as ``http://127.0.0.1:54321/hooks``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}{self._path}"

    @property
    def calls(self) -> list[Call]:
        """The requests received so far, in arrival order."""
        with self._arrived:
            return list(self._calls)

    def wait_for(
        self, condition: Callable[[list[Call]], bool], *, timeout: float = TIMEOUT
    ) -> list[Call]:
        """Wait until the calls received satisfy ``condition``; return them all.

        :raises AssertionError: they do not within ``timeout`` seconds; the message lists
            the calls that did arrive.
        """
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not condition(self._calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [call.body.decode(errors="replace") for call in self._calls]
                    raise AssertionError(f"the awaited calls did not come in {timeout} s: {seen}")
                self._arrived.wait(left)
            return list(self._calls)

    def wait_for_count(self, count: int, *, timeout: float = TIMEOUT) -> list[Call]:
        """Wait until at least ``count`` calls arrived; return them all."""
        return self.wait_for(lambda calls: len(calls) >= count, timeout=timeout)

    def _record(self, call: Call) -> Answer:
        with self._arrived:
            self._calls.append(call)
            self._arrived.notify_all()
            return self._answers.pop(0) if self._answers else 200


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: WebhookReceiver) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.receiver = receiver


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        call = Call(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            arrived=time.monotonic(),
            arrived_at=datetime.now(timezone.utc),
        )
        answer = self.server.receiver._record(call)
        if answer == HANG:
            self.server.receiver._release.wait()
            answer = DROP
        if answer == DROP:
            self.close_connection = True
            return
        assert isinstance(answer, int)
        self.send_response(answer)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output quiet."""
