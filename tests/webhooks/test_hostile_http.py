"""Hostile HTTP against the capture server, over raw sockets on 127.0.0.1: malformed
framing, bodies far over the limit, signatures that are no hex, bodies nested too deep.

Each request is answered with a status (never 500) that the client reads, is recorded as
it should be, reads no more of the body than the limit, and leaves the server serving and
free of errors: none recorded by its threads, none escaping them.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from capture_client import send

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.webhooks import Receiver, captures, server, sign, webhook_receiver

Configure = Callable[..., Settings]

LIMIT = 1024
"""The body limit of these tests, in bytes."""
SECRET = "s3cret"
CHUNKED = b"Transfer-Encoding: chunked\r\n"
OVER = f"over the limit of {LIMIT:,} (setting asyncbdd.webhooks.max_body_size)"


@dataclass(frozen=True)
class Case:
    """A hostile request, and how the server must answer and record it."""

    name: str
    headers: bytes
    body: bytes
    status: int
    recorded: tuple[tuple[int, str | None], ...] = ()
    """(status, note) of each call recorded for the receiver; () when none must be."""
    half_close: bool = False
    """Whether the client ends its sending side after the request (a body cut short)."""
    settings: dict[str, str] = field(default_factory=dict)
    line: bytes | None = None
    """A request line of its own (``{path}`` replaced), instead of ``POST <receiver path>``."""
    says: bytes = b""
    """What the answer's body must hold (why a 400 was answered)."""

    def request(self, path: str) -> bytes:
        line = (self.line or b"POST {path} HTTP/1.1").replace(b"{path}", path.encode())
        return line + b"\r\nHost: 127.0.0.1\r\n" + self.headers + b"\r\n" + self.body


def _chunks(*chunks: bytes) -> bytes:
    return b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"


SIGNED = {"webhooks_secret": SECRET}
DEEP = b"[" * 100_000
DEEP_SETTINGS = {"webhooks_max_body_size": "1 MiB"}
NOT_HEX = "X-Signature is not of the form sha256=<hex>"

CASES = [
    # chunked framing
    Case("negative chunk size", CHUNKED, b"-1\r\n", 400, says=b"Malformed chunk size b'-1\\r\\n'"),
    Case("chunk size not hexadecimal", CHUNKED, b"zz\r\nhello\r\n0\r\n\r\n", 400),
    Case("chunk size with 0x", CHUNKED, b"0x5\r\nhello\r\n0\r\n\r\n", 400),
    Case("chunk size with a sign", CHUNKED, b"+5\r\nhello\r\n0\r\n\r\n", 400),
    Case("chunk size with an underscore", CHUNKED, b"1_0\r\n" + b"x" * 16 + b"\r\n0\r\n\r\n", 400),
    Case("chunk size line without end", CHUNKED, b"1" * 2000, 400, says=b"longer than 1,024"),
    Case("chunk longer than its size", CHUNKED, b"3\r\nhello\r\n0\r\n\r\n", 400),
    Case("chunked body cut short", CHUNKED, b"5\r\nhel", 400, half_close=True, says=b"ended"),
    Case("chunked body without its last chunk", CHUNKED, b"5\r\nhello\r\n", 400, half_close=True),
    Case("trailers without end", CHUNKED, b"0\r\n" + b"X-T: y\r\n" * 10_000, 400),
    Case(
        "one chunk over the limit",
        CHUNKED,
        _chunks(b"x" * 2048),
        413,
        ((413, f"a body of 2,048 bytes, {OVER}"),),
    ),
    Case(
        "chunks over the limit together",
        CHUNKED,
        _chunks(b"x" * 512, b"y" * 512, b"z" * 512),
        413,
        ((413, f"a body of 1,536 bytes, {OVER}"),),
    ),
    Case(
        "chunk size of 2**64",
        CHUNKED,
        b"10000000000000000\r\n",
        413,
        ((413, f"a body of {2**64:,} bytes, {OVER}"),),
    ),
    Case("chunked body within the limit", CHUNKED, _chunks(b'{"a":', b" 1}"), 200, ((200, None),)),
    # transfer codings
    Case(
        "transfer coding other than chunked",
        b"Transfer-Encoding: gzip\r\n",
        b"xyz",
        400,
        says=b"Transfer-Encoding 'gzip' does not end in chunked",
    ),
    Case("chunked then another coding", b"Transfer-Encoding: chunked, gzip\r\n", b"xyz", 400),
    Case(
        "both Transfer-Encoding and Content-Length",
        CHUNKED + b"Content-Length: 5\r\n",
        b"5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    # Content-Length framing
    Case("negative Content-Length", b"Content-Length: -1\r\n", b"", 400),
    Case("Content-Length not a number", b"Content-Length: ten\r\n", b"", 400),
    Case("Content-Length of a superscript digit", b"Content-Length: \xb2\r\n", b"xy", 400),
    Case("Content-Length with a sign", b"Content-Length: +5\r\n", b"hello", 400),
    Case("Content-Length empty", b"Content-Length: \r\n", b"", 400),
    Case(
        "two different Content-Lengths",
        b"Content-Length: 5\r\nContent-Length: 50\r\n",
        b"hello",
        400,
        says=b"Content-Length gives several lengths (5, 50).",
    ),
    Case("a Content-Length list that disagrees", b"Content-Length: 5, 6\r\n", b"hello", 400),
    Case(
        "a repeated equal Content-Length",
        b"Content-Length: 5\r\nContent-Length: 5\r\n",
        b"hello",
        200,
        ((200, None),),
    ),
    Case(
        "Content-Length over the limit",
        b"Content-Length: 2048\r\n",
        b"x" * 2048,
        413,
        ((413, f"a body of 2,048 bytes, {OVER}"),),
    ),
    Case(
        "body shorter than its Content-Length",
        b"Content-Length: 100\r\n",
        b"hello",
        400,
        half_close=True,
        says=b"The body ended after 5 of the 100 bytes of its Content-Length.",
    ),
    # neither: an empty body, and what follows is the next request
    Case("no framing", b"", b"", 200, ((200, None),)),
    # request line and headers
    Case("request line too long", b"", b"", 414, line=b"POST /" + b"x" * 70_000 + b" HTTP/1.1"),
    Case("header line too long", b"X-Pad: " + b"x" * 70_000 + b"\r\n", b"", 431),
    Case("not HTTP at all", b"", b"", 400, line=b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
    Case(
        "raw bytes and a broken escape in the path",
        b"Content-Length: 2\r\n",
        b"{}",
        200,
        ((200, None),),
        line=b"POST {path}/\xff%zz HTTP/1.1",
    ),
    # signatures
    Case(
        "signature with non-ASCII bytes",
        b"X-Signature: sha256=\xff\xfe\r\nContent-Length: 2\r\n",
        b"{}",
        401,
        ((401, NOT_HEX),),
        settings=SIGNED,
    ),
    Case(
        "signature of hex digits and a non-ASCII letter",
        b"X-Signature: sha256=" + b"0" * 63 + b"\xe9\r\nContent-Length: 2\r\n",
        b"{}",
        401,
        ((401, NOT_HEX),),
        settings=SIGNED,
    ),
    Case(
        "signature with a non-ASCII algorithm",
        b"X-Signature: sh\xe5256=00ff\r\nContent-Length: 2\r\n",
        b"{}",
        401,
        ((401, NOT_HEX),),
        settings=SIGNED,
    ),
    # bodies nested too deep
    Case(
        "body nested too deep",
        b"Content-Length: %d\r\n" % len(DEEP),
        DEEP,
        200,
        ((200, None),),
        settings=DEEP_SETTINGS,
    ),
    Case(
        "body nested too deep, correlation id in a body field",
        b"Content-Length: %d\r\n" % len(DEEP),
        DEEP,
        200,
        ((200, None),),
        settings={**DEEP_SETTINGS, "webhooks_correlation": "field:meta.correlation_id"},
    ),
]


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


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_a_hostile_request_is_answered_and_the_server_keeps_serving(
    case: Case, configure: Configure, escaped: list[BaseException]
) -> None:
    """The request gets its status and is recorded as it should be; a normal call after it
    is answered 200, and no error is recorded by the server's threads or escapes them."""
    configure(**{"webhooks_max_body_size": f"{LIMIT} bytes", **case.settings})
    with asyncbdd.scenario(case.name):
        receiver = webhook_receiver("hostile")
        status, said = _exchange(receiver, case.request(receiver.path), half_close=case.half_close)
        box = captures()
        with box.changed:
            recorded = [(call.status, call.note) for call in box.calls["hostile"]]
        normal = _normal_call(receiver)
        with box.changed:
            calls, errors = len(box.calls["hostile"]), dict(box.errors)
    assert status == case.status
    assert case.says in said
    assert recorded == list(case.recorded)
    assert normal == 200
    assert calls == len(case.recorded) + 1
    assert errors == {}
    assert escaped == []


TOTAL = 64 * 1024 * 1024
"""What a streaming client would send, far over the limit: never read whole."""
PIECE = 64 * 1024

STREAMS = {
    "Content-Length": (
        b"Content-Length: %d\r\n" % TOTAL,
        b"x" * PIECE,
        413,
        ((413, f"a body of {TOTAL:,} bytes, {OVER}"),),
    ),
    "chunked": (
        CHUNKED,
        b"".join(b"100\r\n" + b"x" * 256 + b"\r\n" for _ in range(64)),
        413,
        ((413, f"a body of 1,280 bytes, {OVER}"),),
    ),
    "negative chunk size": (CHUNKED, b"-1\r\n" + b"x" * PIECE, 400, ()),
    "no framing": (b"", b"x" * PIECE, 200, ((200, None),)),  # then a request line too long
}


@pytest.mark.parametrize("framing", list(STREAMS))
def test_a_body_streamed_far_over_the_limit_is_answered_while_it_is_still_sent(
    framing: str, configure: Configure, escaped: list[BaseException]
) -> None:
    """A client streaming 64 MiB against a 1 KiB limit reads its answer while it is still
    sending, and the server holds no more than the limit and a small constant meanwhile."""
    configure(webhooks_max_body_size=f"{LIMIT} bytes")
    headers, piece, expected, recorded = STREAMS[framing]
    with asyncbdd.scenario(f"stream {framing}"):
        receiver = webhook_receiver("hostile")
        head = Case(framing, headers, b"", expected).request(receiver.path)
        tracemalloc.start()
        try:
            with _Streamer(receiver, head, piece) as streamer:
                status = streamer.answer()
                sent_when_answered = streamer.sent
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        box = captures()
        with box.changed:
            calls = [(call.status, call.note) for call in box.calls["hostile"]]
        normal = _normal_call(receiver)
        with box.changed:
            errors = dict(box.errors)
    assert status == expected
    assert calls == list(recorded)
    assert sent_when_answered < TOTAL
    assert peak < LIMIT + 2 * 1024 * 1024, f"{peak:,} bytes held at the peak"
    assert normal == 200
    assert errors == {}
    assert escaped == []


def test_a_client_that_sends_its_whole_body_before_reading_gets_413(configure: Configure) -> None:
    """A sender that writes all of an 8 MiB body before it reads (as most HTTP clients do)
    reads the 413 against a 1 MiB limit, not a broken pipe."""
    configure(webhooks_max_body_size="1 MiB")
    with asyncbdd.scenario("whole body first"):
        receiver = webhook_receiver("hostile")
        answer = send(receiver.url, b"x" * (8 * 1024 * 1024))
        normal = _normal_call(receiver)
    assert (answer.status, answer.headers["Connection"]) == (413, "close")
    assert normal == 200


def test_a_body_over_the_limit_is_refused_before_the_client_sends_it(configure: Configure) -> None:
    """A client that asks "Expect: 100-continue" for a body over the limit is answered 413
    at once, not told to go on and send it."""
    configure(webhooks_max_body_size=f"{LIMIT} bytes")
    with asyncbdd.scenario("expect 100"):
        receiver = webhook_receiver("hostile")
        head = Case("", b"Expect: 100-continue\r\nContent-Length: 4096\r\n", b"", 413)
        with socket.create_connection(("127.0.0.1", _port(receiver)), timeout=5) as connection:
            connection.sendall(head.request(receiver.path))
            reader = connection.makefile("rb")
            try:
                first = reader.readline()
            finally:
                reader.close()
        normal = _normal_call(receiver)
    assert first.startswith(b"HTTP/1.1 413 "), first
    assert normal == 200


# --------------------------------------------------------------------------------------


def _port(receiver: Receiver) -> int:
    return int(receiver.url.split("://", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])


def _exchange(receiver: Receiver, raw: bytes, *, half_close: bool) -> tuple[int, bytes]:
    """Send ``raw`` on a fresh connection; return the status and body answered."""
    with socket.create_connection(("127.0.0.1", _port(receiver)), timeout=5) as connection:
        connection.sendall(raw)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection, method="POST")
        try:
            response.begin()
            body = response.read()
        finally:
            response.close()
        return response.status, body


def _normal_call(receiver: Receiver) -> int:
    body = b'{"n": 1}'
    headers = {"X-Signature": sign(body, SECRET)} if receiver.secret is not None else {}
    return send(receiver.url, body, headers=headers).status


class _Streamer:
    """A client that sends a request head and then ``piece`` after ``piece`` up to
    :data:`TOTAL` bytes from a thread of its own, while the test reads the answer."""

    def __init__(self, receiver: Receiver, head: bytes, piece: bytes) -> None:
        self.connection = socket.create_connection(("127.0.0.1", _port(receiver)), timeout=10)
        self.head, self.piece = head, piece
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._send, name="hostile-streamer")

    def __enter__(self) -> _Streamer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        with contextlib.suppress(OSError):  # closed by the server already
            self.connection.shutdown(socket.SHUT_RDWR)  # unblocks a send the server ignores
        self.thread.join(10)
        self.connection.close()
        assert not self.thread.is_alive()

    def answer(self) -> int:
        """The status of the first answer, read while the thread may still be sending."""
        response = http.client.HTTPResponse(self.connection, method="POST")
        try:
            response.begin()
        finally:
            response.close()
        return response.status

    def _send(self) -> None:
        try:
            self.connection.sendall(self.head)
            while self.sent < TOTAL and not self.stop.is_set():
                self.connection.sendall(self.piece)
                self.sent += len(self.piece)
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:  # the server closed the connection: it will read no more
            pass


@pytest.mark.parametrize("stalls_in", ["head", "body"])
def test_a_request_that_trickles_in_is_cut_off_at_its_deadline(
    configure: Configure, monkeypatch: pytest.MonkeyPatch, stalls_in: str
) -> None:
    """A client that sends a request a byte at a time (a slow loris) is disconnected
    once the request has taken REQUEST_SECONDS from its first byte, whatever the pace of
    its bytes, and the server goes on serving others."""
    monkeypatch.setattr(server, "REQUEST_SECONDS", 0.3)
    configure()
    with asyncbdd.scenario("slow loris"):
        receiver = webhook_receiver("hostile")
        head = f"POST {receiver.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        if stalls_in == "body":
            head += b"Content-Length: 100\r\n\r\n"
        pending = b"X-Slow: " + b"a" * 200 if stalls_in == "head" else b"b" * 100
        pace = threading.Event()  # never set: the slow client's pause between two bytes
        with socket.create_connection(("127.0.0.1", _port(receiver)), timeout=5) as connection:
            connection.sendall(head)
            cut_off_after = None
            for sent, byte in enumerate(pending):
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    cut_off_after = sent
                    break
                if pace.wait(0.02) or _closed(connection):
                    cut_off_after = sent
                    break
        normal = _normal_call(receiver)
    assert cut_off_after is not None, "the server kept reading the trickled request"
    assert cut_off_after < len(pending) - 1
    assert normal == 200


def _closed(connection: socket.socket) -> bool:
    """Whether the server closed ``connection`` (it reads an end, or a reset)."""
    connection.setblocking(False)
    try:
        return connection.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        connection.setblocking(True)
        connection.settimeout(5)
