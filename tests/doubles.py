"""Test doubles shared by several test modules.

* :class:`ClosingQueue`: a queue that only counts how often it was closed.
* :class:`FakeService`: a run-scoped service that only counts its starts and stops.
* :func:`signal_taken_by_another_thread`: a signal whose handler must run in the main
  thread while the main thread waits, as Ctrl-C does when another thread receives it.
* :class:`LocalHttpServer` and :class:`QuietHandler`: an HTTP service a test plays.
* :class:`FakeClock`: a monotonic clock that moves only when the code under test sleeps.
* :class:`FaultyProxy`: a loopback TCP proxy a test breaks: black hole, killed, slow.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from asyncbdd.infra.run_scoped import EmbeddedService
from asyncbdd.queues import Correlation, Message, Queue
from asyncbdd.wait import wait_until


class ClosingQueue(Queue):
    """A queue that only counts how often it was closed; ``fails`` makes closing raise."""

    def __init__(self, alias: str, *, fails: bool = False) -> None:
        super().__init__(alias, Correlation("off"))
        self.closed = 0
        self.fails = fails

    def describe(self) -> str:
        return f"closing queue {self.alias!r}"

    def open(self) -> None:
        return

    def receive(self, wait: float) -> list[Message]:
        return []

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        return

    def close(self) -> None:
        self.closed += 1
        if self.fails:
            raise RuntimeError(f"{self.alias} could not close")


class Interrupted(Exception):
    """What the test's signal handler raises, as Python's own raises KeyboardInterrupt."""


@contextmanager
def signal_taken_by_another_thread() -> Iterator[Callable[[threading.Condition], None]]:
    """``send(condition)``: once the main thread waits on ``condition`` (and so has let go
    of its lock), another thread takes SIGUSR1, whose handler raises :class:`Interrupted`.
    Python runs that handler in the main thread, when the main thread next wakes."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    waited_on: list[threading.Condition] = []
    started = threading.Event()

    def take_signal() -> None:
        started.wait()
        with waited_on[0]:  # free only while the main thread waits
            signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)

    def send(condition: threading.Condition) -> None:
        if not waited_on:
            waited_on.append(condition)
            started.set()

    helper = threading.Thread(target=take_signal, daemon=True)
    helper.start()
    try:
        yield send
    finally:
        send(threading.Condition())
        helper.join()
        signal.signal(signal.SIGUSR1, previous)


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that does not log each request to stderr."""

    def log_message(self, format: str, *arguments: object) -> None:
        return


class LocalHttpServer:
    """``handler`` served on a free loopback port from a thread, until :meth:`stop`."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class FakeService(EmbeddedService):
    """A service that only counts its starts and stops; ``die()`` simulates a crash."""

    def __init__(self, *, fails_to_stop: bool = False) -> None:
        self.up = False
        self.starts = 0
        self.stops = 0
        self.fails_to_stop = fails_to_stop

    @property
    def running(self) -> bool:
        return self.up

    def start(self) -> str:
        self.up = True
        self.starts += 1
        return "fake://service"

    def stop(self) -> None:
        self.up = False
        self.stops += 1
        if self.fails_to_stop:
            raise RuntimeError("the service could not stop")

    def die(self) -> None:
        self.up = False


class FakeClock:
    """A monotonic clock that only moves when the code under test sleeps (or a probe
    moves it, to take time)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    @property
    def elapsed(self) -> float:
        return self.now - 1000.0


class FaultyProxy:
    """A TCP proxy on 127.0.0.1 in front of ``target`` (host, port), which a test breaks.

    * :meth:`black_hole`: connections are still accepted, but nothing passes either way
      (a stopped or hung service) until :meth:`heal`;
    * :meth:`kill`: every connection is cut and new ones are refused (a dead service),
      until :meth:`revive` listens on the same port again (a service restarted);
    * :attr:`delay`: seconds each chunk waits before it is passed on (a slow service).

    Use as a context manager; leaving it closes every socket and joins every thread.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.delay = 0.0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._passing = threading.Event()
        self._passing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._start(self._accept)

    def black_hole(self) -> None:
        """Accept connections, pass nothing on, until :meth:`heal`."""
        self._passing.clear()

    def heal(self) -> None:
        """Pass everything on again (what was held back goes now)."""
        self._passing.set()

    def kill(self) -> None:
        """Cut every connection and refuse new ones: nothing listens on the port any more."""
        self._closed.set()
        self._passing.set()
        with self._lock:
            sockets = [self._listener, *self._sockets]
        for sock in sockets:
            with suppress(OSError):  # not connected (the listener), or already shut
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def revive(self) -> None:
        """Listen on the same port again, after :meth:`kill`, and pass everything on."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed.clear()
        self._start(self._accept)

    def close(self) -> None:
        """:meth:`kill`, then wait for every thread to finish."""
        self.kill()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(5.0)

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self, target: Callable[..., None], *arguments: object) -> None:
        thread = threading.Thread(target=target, args=arguments, daemon=True)
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        listener = self._listener
        while not self._closed.is_set():
            try:
                client, _ = listener.accept()
            except OSError:
                return  # killed: the listener was closed
            try:
                upstream = socket.create_connection(self.target, timeout=5.0)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._closed.is_set():
                    client.close()
                    upstream.close()
                    return
                self._sockets += [client, upstream]
            self._start(self._pump, client, upstream)
            self._start(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            while data and not self._passing.wait(0.1):
                if self._closed.is_set():
                    return
            if data and self.delay:
                self._closed.wait(self.delay)  # the slowness under test, not a settle
            if not data or self._closed.is_set():
                with suppress(OSError):
                    sink.shutdown(socket.SHUT_WR)
                return
            try:
                sink.sendall(data)
            except OSError:
                return


def wait_for_listener(port: int, process: subprocess.Popen[bytes], seconds: float = 5.0) -> None:
    """Wait until a server process just started accepts connections on 127.0.0.1:``port``
    (at most ``seconds``); fail at once should the process exit instead."""
    wait_until(
        lambda: _accepts(port),
        timeout=seconds,
        fail_if=lambda _: process.poll() is not None and f"it exited ({process.returncode})",
        description=f"a server process to listen on 127.0.0.1:{port}",
    )


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return True
