"""The hostile-HTTP corpus: the real capture server, raw requests over sockets, one row each.

Each row sends one kind of hostile request to a receiver of its own scenario and states
the answer the README promises ("Webhooks": limits, malformed framing, signatures, JSON
nested too deep, receiver names, stray calls), the answer got, how much of the body the
server kept against what the client got to send (or the growth of this process's
resident memory, since the server runs in its threads), the time taken against the row's
bound, and the verdict. A row passes when the answer, the record and the bound all hold,
and the server's threads recorded no error and let none escape.

Clients that trickle their headers (slow loris) each hold a connection and its thread:
the row checks that other calls are served meanwhile and that the server's stop (the end
of the run) closes them. Before that, only the 60 s idle timeout between two reads bounds
such a client; the server sets no deadline for a whole request head.

The table is printed after the run, titled "N/N as specified".
"""

from __future__ import annotations

import contextlib
import http.client
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import asyncbdd
from asyncbdd.config import get_settings, load_settings, set_settings
from asyncbdd.errors import InvalidInput
from asyncbdd.scenario import end_scenario
from asyncbdd.webhooks import Captures, Receiver, captures, stop_webhook_server, webhook_receiver
from asyncbdd.webhooks.server import STOP_SECONDS

KIB = 1024
MIB = 1024 * KIB
LIMIT = KIB
"""The body limit of most rows."""
QUICK = 2.0
"""The bound of a row whose request is small: answered within it, in seconds."""
CHUNKED = b"Transfer-Encoding: chunked\r\n"
STREAMED = 200 * MIB
"""What the streaming client offers to send: far more than the server may read."""
RSS_BOUND = 20 * MIB
"""Most the process's resident memory may grow while the server refuses that stream."""
SLOW_CLIENTS = 10
"""Connections that trickle their headers in the slow-loris row."""


@dataclass(frozen=True)
class Row:
    """One hostile request: what the server must answer, and what it did."""

    case: str
    expected: str
    got: str
    measure: str
    """Bytes of the body the server kept / the client sent, or the memory growth."""
    seconds: float
    bound: float
    holds: bool
    """Whether the answer and the record are as specified (the bound apart)."""
    errors: tuple[str, ...] = ()
    """Errors the server's threads recorded or let escape during the row."""

    @property
    def passed(self) -> bool:
        return self.holds and self.seconds <= self.bound and not self.errors

    def cells(self) -> tuple[str, ...]:
        return (
            self.case,
            self.expected,
            self.got,
            self.measure,
            f"{_duration(self.seconds)} / {self.bound:g} s",
            "as specified" if self.passed else "NO: " + "; ".join(self._faults()),
        )

    def _faults(self) -> list[str]:
        faults = [] if self.holds else ["answer or record differs"]
        if self.seconds > self.bound:
            faults.append("too slow")
        return faults + list(self.errors)


@dataclass(frozen=True)
class Exchange:
    """What one raw request got: the status, the answer's body, and the time it took."""

    status: int | None
    body: bytes
    seconds: float
    failure: str | None = None
    """Why no answer could be read (a reset connection, a timeout), if none was."""


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _settings(**values: object) -> None:
    overrides: dict[str, object] = {"asyncbdd.timeout": "5 seconds", "asyncbdd.grace": "0.2"}
    overrides["asyncbdd.webhooks.max_body_size"] = f"{LIMIT} bytes"
    overrides.update({f"asyncbdd.{name}": value for name, value in values.items()})
    set_settings(load_settings(environ={}, overrides=overrides))


def _port(receiver: Receiver) -> int:
    return int(receiver.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _head(path: str, headers: bytes, line: bytes | None = None) -> bytes:
    first = line if line is not None else b"POST " + path.encode() + b" HTTP/1.1"
    return first + b"\r\nHost: 127.0.0.1\r\n" + headers + b"\r\n"


def _exchange(receiver: Receiver, raw: bytes, *, half_close: bool = False) -> Exchange:
    """Send ``raw`` on a fresh connection and read the answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", _port(receiver)), timeout=10) as connection:
        try:
            connection.sendall(raw)
            if half_close:
                connection.shutdown(socket.SHUT_WR)
            response = http.client.HTTPResponse(connection, method="POST")
            try:
                response.begin()
                body = response.read()
            finally:
                response.close()
        except OSError as error:
            return Exchange(None, b"", time.monotonic() - started, repr(error))
    return Exchange(response.status, body, time.monotonic() - started)


def _recorded(box: Captures, name: str) -> list[tuple[int, int]]:
    """(status, bytes of body kept) of each call recorded for receiver ``name``."""
    with box.changed:
        return [(call.status, len(call.body)) for call in box.calls[name]]


def _errors(box: Captures, escaped: list[BaseException]) -> tuple[str, ...]:
    """The errors the server recorded for ``box``, and those escaped since the last row."""
    with box.changed:
        recorded = [f"server error: {error!r}" for error in box.errors.values()]
    new, escaped[:] = escaped[:], []
    return (*recorded, *(f"escaped a thread: {error!r}" for error in new))


def _status(exchange: Exchange) -> str:
    return str(exchange.status) if exchange.status is not None else f"none: {exchange.failure}"


# --------------------------------------------------------------------------------------
# Framing and limits: the answer, and nothing recorded but what the README says


@dataclass(frozen=True)
class Framing:
    """A request of malformed or oversized framing, and its specified answer."""

    case: str
    headers: bytes
    body: bytes
    status: int
    records: bool
    """Whether the call is recorded (413: listed unread) or not (400)."""
    half_close: bool = False


def _chunks(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


FRAMINGS = [
    Framing(
        "oversized body by Content-Length", b"Content-Length: 2048\r\n", b"x" * 2048, 413, True
    ),
    Framing(
        "oversized chunked body", CHUNKED, _chunks(b"x" * 512, b"y" * 512, b"z" * 512), 413, True
    ),
    Framing("chunk size -1", CHUNKED, b"-1\r\nhello\r\n0\r\n\r\n", 400, False),
    Framing("chunk size not hexadecimal", CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n", 400, False),
    Framing("negative Content-Length", b"Content-Length: -1\r\n", b"", 400, False),
    Framing("non-numeric Content-Length", b"Content-Length: ten\r\n", b"ten", 400, False),
    Framing(
        "contradictory Content-Lengths",
        b"Content-Length: 5\r\nContent-Length: 50\r\n",
        b"hello",
        400,
        False,
    ),
    Framing("body cut short", b"Content-Length: 100\r\n", b"hello", 400, False, half_close=True),
    Framing("unknown transfer coding", b"Transfer-Encoding: gzip\r\n", b"xyz", 400, False),
]


def framing_row(framing: Framing, escaped: list[BaseException]) -> Row:
    """Malformed framing is answered 400 and not recorded; a body over the limit, 413 and
    recorded unread."""
    _settings()
    with asyncbdd.scenario(framing.case):
        receiver = webhook_receiver("hostile")
        raw = _head(receiver.path, framing.headers) + framing.body
        exchange = _exchange(receiver, raw, half_close=framing.half_close)
        box = captures()
        recorded = _recorded(box, "hostile")
        errors = _errors(box, escaped)
    wanted = [(framing.status, 0)] if framing.records else []
    record = "recorded unread" if framing.records else "not recorded"
    got = "recorded unread" if recorded == [(framing.status, 0)] else f"recorded {recorded}"
    kept = sum(size for _, size in recorded)
    return Row(
        framing.case,
        f"{framing.status}, {record}",
        f"{_status(exchange)}, {got if recorded else 'not recorded'}",
        f"kept {kept:,} of {len(framing.body):,} B",
        exchange.seconds,
        QUICK,
        exchange.status == framing.status and recorded == wanted,
        errors,
    )


def expect_continue_row(escaped: list[BaseException]) -> Row:
    """A client asking ``Expect: 100-continue`` for a body over the limit reads 413 at
    once, and is never told to go on and send it."""
    _settings()
    with asyncbdd.scenario("expect 100-continue"):
        receiver = webhook_receiver("hostile")
        head = _head(receiver.path, b"Expect: 100-continue\r\nContent-Length: 4096\r\n")
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", _port(receiver)), timeout=10) as connection:
            connection.sendall(head)
            with connection.makefile("rb") as reader:
                first = reader.readline()
        seconds = time.monotonic() - started
        box = captures()
        errors = _errors(box, escaped)
    status = first.split(b" ")[1].decode() if first.startswith(b"HTTP/1.1 ") else repr(first)
    return Row(
        "Expect: 100-continue, 4 KiB over 1 KiB",
        "413 before the body is sent",
        f"{status} first (no 100 Continue)" if status == "413" else status,
        "sent 0 of 4,096 B of body",
        seconds,
        QUICK,
        status == "413",
        errors,
    )


def whole_body_first_row(escaped: list[BaseException]) -> Row:
    """A client that writes all of an 8 MiB body before it reads (http.client) reads the
    413 against a 1 MiB limit, not a broken pipe or a reset connection."""
    _settings(**{"webhooks.max_body_size": "1 MiB"})
    body = b"x" * (8 * MIB)
    with asyncbdd.scenario("whole body first"):
        receiver = webhook_receiver("hostile")
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", _port(receiver), timeout=10)
        try:
            connection.request("POST", receiver.path, body=body)
            response = connection.getresponse()
            response.read()
            got: str = f"{response.status}, Connection: {response.getheader('Connection')}"
            status: int | None = response.status
        except OSError as error:
            got, status = f"none: {error!r}", None
        finally:
            connection.close()
        seconds = time.monotonic() - started
        box = captures()
        recorded = _recorded(box, "hostile")
        errors = _errors(box, escaped)
    return Row(
        "8 MiB body, sent whole, 1 MiB limit",
        "413 read by the client",
        got,
        f"kept {sum(size for _, size in recorded):,} of {len(body):,} B",
        seconds,
        5.0,
        status == 413 and recorded == [(413, 0)],
        errors,
    )


# --------------------------------------------------------------------------------------
# A stream far over the limit: the server's memory


def resident_bytes() -> int:
    """This process's resident memory (VmRSS of /proc/self/status), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * KIB
    raise RuntimeError("/proc/self/status has no VmRSS line")


def _chunked_stream(total: int, piece: int = 64 * KIB) -> Iterator[bytes]:
    """``total`` bytes of chunks of ``piece`` bytes, one chunk object yielded again and
    again: nothing of the stream is built in memory."""
    chunk = b"%x\r\n" % piece + b"x" * piece + b"\r\n"
    for _ in range(total // piece):
        yield chunk
    yield b"0\r\n\r\n"


class _Streamer:
    """Sends a request head and then every piece of ``stream`` from a thread of its own,
    while the test reads the answer; samples the process's resident memory meanwhile."""

    def __init__(self, port: int, head: bytes, stream: Iterator[bytes]) -> None:
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.head, self.stream = head, stream
        self.sent = 0
        self.peak = resident_bytes()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send, name="hostile-streamer")

    def __enter__(self) -> _Streamer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.thread.join(10)  # the server closes the connection after its drain
        self.stop.set()
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)
        self.thread.join(10)
        self.connection.close()

    def answer(self) -> int | None:
        """The status of the first answer, read while the thread may still be sending."""
        response = http.client.HTTPResponse(self.connection, method="POST")
        try:
            response.begin()
        except OSError:
            return None
        finally:
            response.close()
        return response.status

    def _send(self) -> None:
        try:
            self.connection.sendall(self.head)
            for number, piece in enumerate(self.stream):
                if self.stop.is_set():
                    return
                self.connection.sendall(piece)
                self.sent += len(piece)
                if number % 16 == 0:  # every MiB
                    self.peak = max(self.peak, resident_bytes())
        except OSError:  # the server closed the connection: it reads no more
            pass


def streamed_row(escaped: list[BaseException]) -> Row:
    """A client streaming 200 MiB of chunks against a 1 KiB limit reads 413 while it
    sends; the process's resident memory grows by less than 20 MiB meanwhile."""
    _settings()
    with asyncbdd.scenario("200 MiB streamed"):
        receiver = webhook_receiver("hostile")
        head = _head(receiver.path, CHUNKED)
        before = resident_bytes()
        started = time.monotonic()
        with _Streamer(_port(receiver), head, _chunked_stream(STREAMED)) as streamer:
            status = streamer.answer()
            answered = time.monotonic() - started
        growth = max(streamer.peak, resident_bytes()) - before
        box = captures()
        recorded = _recorded(box, "hostile")
        errors = _errors(box, escaped)
    return Row(
        "200 MiB chunked stream, 1 KiB limit",
        f"413 while sending, RSS < +{RSS_BOUND // MIB} MiB",
        f"{status}, RSS {growth / MIB:+.1f} MiB",
        f"sent {streamer.sent / MIB:,.1f} of {STREAMED // MIB} MiB",
        answered,
        5.0,
        status == 413 and recorded == [(413, 0)] and growth < RSS_BOUND,
        errors,
    )


# --------------------------------------------------------------------------------------
# Signatures, JSON nested too deep


def signature_row(escaped: list[BaseException]) -> Row:
    """A signature header with non-ASCII bytes is answered 401 and recorded, not 500."""
    _settings(**{"webhooks.secret": "s3cret"})
    with asyncbdd.scenario("non-ASCII signature"):
        receiver = webhook_receiver("hostile")
        headers = b"X-Signature: sha256=\xff\xfe\r\nContent-Length: 2\r\n"
        exchange = _exchange(receiver, _head(receiver.path, headers) + b"{}")
        box = captures()
        recorded = _recorded(box, "hostile")
        errors = _errors(box, escaped)
    return Row(
        "signature with non-ASCII bytes",
        "401, recorded",
        f"{_status(exchange)}, recorded {[status for status, _ in recorded]}",
        "kept 2 of 2 B",
        exchange.seconds,
        QUICK,
        exchange.status == 401 and recorded == [(401, 2)],
        errors,
    )


DEEP = b"[" * 100_000


def deep_json_row(escaped: list[BaseException], *, correlation: str | None) -> Row:
    """A body nested 100,000 deep is recorded and answered 200, its ``json_problem`` set;
    with field correlation it counts for the receiver (no id found), never a 500."""
    values: dict[str, object] = {"webhooks.max_body_size": "1 MiB"}
    if correlation is not None:
        values["webhooks.correlation"] = correlation
    _settings(**values)
    with asyncbdd.scenario("deep JSON"):
        receiver = webhook_receiver("hostile")
        headers = b"Content-Length: %d\r\n" % len(DEEP)
        exchange = _exchange(receiver, _head(receiver.path, headers) + DEEP)
        box = captures()
        with box.changed:
            calls = list(box.calls["hostile"])
            others = len(box.others)
        errors = _errors(box, escaped)
    problem = calls[0].json_problem if len(calls) == 1 else None
    return Row(
        "JSON nested 100,000 deep" + (", field correlation" if correlation else ""),
        "200, counted, json_problem set",
        f"{_status(exchange)}, {len(calls)} counted ({others} others'), json_problem: {problem}",
        f"kept {sum(len(call.body) for call in calls):,} of {len(DEEP):,} B",
        exchange.seconds,
        QUICK,
        exchange.status == 200 and len(calls) == 1 and others == 0 and problem is not None,
        errors,
    )


# --------------------------------------------------------------------------------------
# Receiver names, stray calls, slow clients


def receiver_names_row(escaped: list[BaseException]) -> Row:
    """Receiver "a/b" is refused when declared; a call to ``<url of "a">/b`` is receiver
    "a"'s call with the path "/b"."""
    _settings()
    with asyncbdd.scenario("names a and a/b"):
        started = time.monotonic()
        receiver = webhook_receiver("a")
        refused = ""
        try:
            webhook_receiver("a/b")
        except InvalidInput as error:
            refused = str(error)
        exchange = _exchange(
            receiver, _head(receiver.path + "/b", b"Content-Length: 2\r\n") + b"{}"
        )
        seconds = time.monotonic() - started
        box = captures()
        with box.changed:
            routed = [(call.receiver, call.relative_path) for call in box.calls["a"]]
            strays = len(box.strays)
        errors = _errors(box, escaped)
    named = 'Name it "a-b" instead' in refused
    return Row(
        'receiver names "a" and "a/b"',
        '"a/b" refused; <a>/b is a\'s, path /b',
        f"{'refused' if refused else 'ACCEPTED'}{', names a-b' if named else ''}; "
        f"{_status(exchange)}, {routed}",
        "-",
        seconds,
        QUICK,
        named and exchange.status == 200 and routed == [("a", "/b")] and strays == 0,
        errors,
    )


def unknown_path_row(escaped: list[BaseException]) -> Row:
    """A call to a path no receiver owns is answered 404 and listed as a stray call."""
    _settings()
    with asyncbdd.scenario("unknown path"):
        receiver = webhook_receiver("hostile")
        raw = _head("/hooks/no-such-scenario/nobody", b"Content-Length: 2\r\n") + b"{}"
        exchange = _exchange(receiver, raw)
        box = captures()
        with box.changed:
            strays = [(call.status, call.note) for call in box.strays]
            calls = len(box.calls["hostile"])
        errors = _errors(box, escaped)
    return Row(
        "unknown path",
        "404, listed as stray",
        f"{_status(exchange)}, strays {strays}",
        "-",
        exchange.seconds,
        QUICK,
        exchange.status == 404 and strays == [(404, "no receiver at this path")] and calls == 0,
        errors,
    )


def slow_loris_row(escaped: list[BaseException]) -> Row:
    """Clients trickling their headers hold one connection each, not the server: a normal
    call is answered meanwhile, a trickled request that completes is answered, and the end
    of the run closes the connections still trickling within ``STOP_SECONDS``."""
    _settings()
    with asyncbdd.scenario("slow loris"):
        receiver = webhook_receiver("hostile")
        port = _port(receiver)
        head = _head(receiver.path, b"Content-Length: 2\r\n") + b"{}"
        slow = [
            socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(SLOW_CLIENTS)
        ]
        try:
            for index in range(len(head) // 2):  # every client sends half its request
                for connection in slow:
                    connection.sendall(head[index : index + 1])
                threading.Event().wait(0.002)  # the pace of a trickling client
            started = time.monotonic()
            normal = _exchange(receiver, head)
            finished = _finish_trickled(slow[0], head[len(head) // 2 :])
            stopping = time.monotonic()
            stop_webhook_server()  # as the end of the run does
            closed = [_closed_by_server(connection) for connection in slow[1:]]
            stopped = time.monotonic() - stopping
        finally:
            for connection in slow:
                connection.close()
        seconds = time.monotonic() - started
        box = captures()
        errors = _errors(box, escaped)
    return Row(
        f"slow loris: {SLOW_CLIENTS} clients trickle headers",
        "others served; server stop closes them",
        f"a normal call {_status(normal)} in {_duration(normal.seconds)}, the trickled one "
        f"{finished}; stop closed {sum(closed)} of {len(closed)} in {_duration(stopped)}",
        "-",
        seconds,
        QUICK + STOP_SECONDS,
        normal.status == 200 and normal.seconds < QUICK and finished == 200 and all(closed),
        errors,
    )


def _finish_trickled(connection: socket.socket, rest: bytes) -> int | None:
    connection.sendall(rest)
    response = http.client.HTTPResponse(connection, method="POST")
    try:
        response.begin()
        response.read()
    except OSError:
        return None
    finally:
        response.close()
    return response.status


def _closed_by_server(connection: socket.socket) -> bool:
    """Whether the server closed ``connection`` (it reads the end, or a reset)."""
    try:
        return connection.recv(1) == b""
    except ConnectionResetError:
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------------------


@pytest.fixture
def escaped() -> Iterator[list[BaseException]]:
    """The exceptions that escape any thread while the test runs."""
    seen: list[BaseException] = []
    previous = threading.excepthook

    def record(args: threading.ExceptHookArgs) -> None:
        seen.append(args.exc_value or RuntimeError(str(args.exc_type)))

    threading.excepthook = record
    yield seen
    threading.excepthook = previous


@pytest.fixture
def hostile_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No ASYNCBDD_* variable leaks in; the settings in force before, the scenario ended
    and the capture server stopped afterwards."""
    for variable in list(os.environ):
        if variable.startswith("ASYNCBDD_"):
            monkeypatch.delenv(variable)
    previous = get_settings()
    try:
        yield
    finally:
        end_scenario()
        stop_webhook_server()
        set_settings(previous)


ROWS: list[Callable[[list[BaseException]], Row]] = [
    *(lambda escaped, framing=framing: framing_row(framing, escaped) for framing in FRAMINGS),
    expect_continue_row,
    whole_body_first_row,
    streamed_row,
    signature_row,
    lambda escaped: deep_json_row(escaped, correlation=None),
    lambda escaped: deep_json_row(escaped, correlation="field:meta.correlation_id"),
    receiver_names_row,
    unknown_path_row,
    slow_loris_row,
]


@pytest.mark.usefixtures("hostile_server")
def test_every_hostile_request_is_answered_as_specified_within_its_bound(
    reliability_report: Callable[..., None], escaped: list[BaseException]
) -> None:
    """Each hostile request gets the answer and the record the README specifies, within
    its bound, with no error in the server's threads."""
    rows = [row(escaped) for row in ROWS]
    passed = sum(row.passed for row in rows)
    reliability_report(
        f"hostile HTTP against the capture server: {passed}/{len(rows)} as specified",
        ["case", "expected", "got", "server kept / client sent", "time / bound", "verdict"],
        [row.cells() for row in rows],
    )
    problems = [" | ".join(row.cells()) for row in rows if not row.passed]
    assert problems == [], "\n".join(problems)
