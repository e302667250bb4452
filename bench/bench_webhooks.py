"""Webhook capture: how soon a step sees a call, and how many calls the server records.

Measured with the real clock on the run's capture server (threads of this process), side
by side in one run, against what a test suite would otherwise hand-write: an
``http.server`` handler that appends each call to a list.

1. Detection delay: a client thread POSTs one call, on a fresh connection, at a random
   moment (fixed seed) after ``expect_calls`` began to wait; the delay is from the moment
   the server recorded the call (the :class:`~asyncbdd.webhooks.Call`'s ``received_at``)
   and from just before the client sent it, to the wait's return. Baseline: the seed
   project's loop, the hand-written server's list checked every 0.5 s with
   ``time.sleep``, its waits run beside the asyncbdd waits in two threads.
2. The same waits with "exactly 1", which include the grace window (informative).
3. Throughput: client threads in a child process send calls as fast as they can, on
   keep-alive connections or on a new connection per call; every call is counted and
   checked distinct. Baseline: a bare ``ThreadingHTTPServer`` whose handler appends to a
   list, the same clients.
4. Memory while refusing: a client streams 200 MiB of chunks against the default 1 MiB
   body limit, reading the 413 while it sends; the growth of this process's resident
   memory (the server runs in its threads) from before the stream to its peak, sampled
   as the client sends. Reference: the limit itself, what the server may hold of a body.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncbdd
from asyncbdd.config import Settings, get_settings
from asyncbdd.webhooks import captures, expect_calls, stop_webhook_server, webhook_receiver
from bench.core import Result, median, p90, settings_in_force, uniform

__all__ = ["run"]

SEED = 20_240_603
SEND_WITHIN = (0.02, 0.5)
"""When (s after the wait began) the client sends its call: the seed loop's whole period."""
SEED_POLL = 0.5
"""The seed project's fixed pause between two looks at its list, in seconds."""
DELAY_TARGET_MS = 5.0
RATE_TARGET = 1000.0
CLIENT_THREADS = 8
WAIT_LIMIT = 10.0
"""Deadline of every measured wait, in seconds; none comes near it."""
RECEIVER = "payment-complete"
MIB = 1024 * 1024
STREAMED = 200 * MIB
"""What the refused client offers to send, in bytes."""
MEMORY_TARGET = 4 * MIB
"""Most the resident memory may grow while the server refuses that stream."""


def run(quick: bool) -> list[Result]:
    """Measure every figure of this module: about 45 s, or 15 s with ``quick``."""
    with settings_in_force(Settings()), _ListServer() as seed_server:  # built-in defaults
        try:
            _warm_up()
            results = _detection(seed_server, 15 if quick else 40, 4 if quick else 10)
            results += _throughput(
                (250 if quick else 500) * CLIENT_THREADS, rounds=1 if quick else 3
            )
            results.append(_memory_refusing(rounds=2 if quick else 5))
        finally:
            stop_webhook_server()
    return results


# --------------------------------------------------------------------------------------
# 1. Detection delay
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Delay:
    recorded: float
    """Seconds from the server's record of the call to the wait's return."""
    sent: float
    """Seconds from just before the client sent the call to the wait's return."""


def _detection(seed_server: _ListServer, samples: int, exact_samples: int) -> list[Result]:
    moments = uniform(SEED, samples, *SEND_WITHIN)
    with ThreadPoolExecutor(2) as beside:  # the seed loops sleep nearly all the time
        seed_waits = [
            beside.submit(_seed_detection, seed_server, number, after)
            for number, after in enumerate(moments)
        ]
        waits = [_detection_sample(after, exactly=False) for after in moments]
        baseline = [future.result() for future in seed_waits]
    exact = [_detection_sample(after, exactly=True) for after in moments[:exact_samples]]
    seed_name = "seed loop (0.5s poll)"
    results = []
    for label, ours, seed in (
        ("recorded", [1000 * d.recorded for d in waits], [1000 * d.recorded for d in baseline]),
        ("client send", [1000 * d.sent for d in waits], [1000 * d.sent for d in baseline]),
    ):
        targeted = label == "recorded"
        results.append(
            Result(
                f"delay median, {label} -> step: exactly=False",
                median(ours),
                "ms",
                seed_name,
                median(seed),
                "lower",
                target=f"<= {DELAY_TARGET_MS:g} ms" if targeted else "",
                met=median(ours) <= DELAY_TARGET_MS if targeted else None,
                note=f"median of {samples} waits, call sent 20-500 ms in: "
                + (
                    "the server's record of the call (Call.received_at)"
                    if targeted
                    else "just before the client sent it (fresh connection)"
                )
                + f" -> expect_calls returned; p90 {p90(ours):.2f} ms, worst {max(ours):.2f} "
                f"ms (seed p90 {p90(seed):.0f} ms)",
            )
        )
    grace = get_settings().grace
    exact_delays = [1000 * delay.recorded for delay in exact]
    results.append(
        Result(
            "delay median, recorded -> step: exactly 1",
            median(exact_delays),
            "ms",
            seed_name,
            median([1000 * delay.recorded for delay in baseline]),
            "lower",
            note=f"median of {exact_samples} waits; includes the {1000 * grace:.0f} ms grace "
            "window (setting asyncbdd.grace) that 'exactly' watches for an extra call",
        )
    )
    return results


def _detection_sample(after: float, *, exactly: bool) -> _Delay:
    with asyncbdd.scenario("webhook delay"):
        receiver = webhook_receiver(RECEIVER)
        client = _Client(receiver.url, time.monotonic() + after)
        [call] = expect_calls(RECEIVER, 1, exactly=exactly, timeout=WAIT_LIMIT)
        returned = time.monotonic()
        client.join()
    return _Delay(returned - call.received_at, returned - client.called)


def _seed_detection(server: _ListServer, number: int, after: float) -> _Delay:
    """One wait of the seed project's loop: look at the list, sleep 0.5 s while the call
    is missing."""
    path = f"/hooks/seed-{number}"
    client = _Client(server.url + path, time.monotonic() + after)
    while True:
        found = [at for seen, _, at in list(server.calls) if seen == path]
        if found:
            break
        time.sleep(SEED_POLL)
    returned = time.monotonic()
    client.join()
    return _Delay(returned - found[0], returned - client.called)


class _Client(threading.Thread):
    """Started at once: at the monotonic time ``at``, POSTs a payment.completed call to
    ``url`` on a fresh connection, as the demo does; ``called`` is when it began."""

    def __init__(self, url: str, at: float) -> None:
        super().__init__(daemon=True)
        self.url, self.at = url, at
        self.called = 0.0
        self.start()

    def run(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        body = json.dumps(_PAYMENT).encode()
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        time.sleep(max(0.0, self.at - time.monotonic()))
        self.called = time.monotonic()
        try:
            connection.request("POST", parts.path, body, _HEADERS)
            connection.getresponse().read()
        finally:
            connection.close()


# --------------------------------------------------------------------------------------
# 2. Throughput
# --------------------------------------------------------------------------------------


def _throughput(total: int, rounds: int) -> list[Result]:
    results = []
    for mode, label in (("keep-alive", "keep-alive"), ("fresh", "new connection per call")):
        ours: list[_Flood] = []
        bare: list[_Flood] = []
        for _ in range(rounds):  # alternated, so that both see the same machine
            ours.append(_flood_asyncbdd(total, mode))
            bare.append(_flood_bare(total, mode))
        ours_rate = median([flood.rate for flood in ours])
        bare_rate = median([flood.rate for flood in bare])
        whole = all(flood.whole(total) for flood in ours)
        step = median([flood.step for flood in ours])
        rounds_text = f"median of {rounds} rounds, " if rounds > 1 else ""
        results.append(
            Result(
                f"calls recorded/s, {label}",
                ours_rate,
                "calls/s",
                "bare ThreadingHTTPServer",
                bare_rate,
                "higher",
                target=f">= {RATE_TARGET:,.0f}/s, none lost",
                met=ours_rate >= RATE_TARGET and whole,
                note=f"{rounds_text}{total:,} calls from {CLIENT_THREADS} client threads in a "
                "child process; "
                f"{_tally(ours)} (bare: {_tally(bare)}); expect_calls, waiting throughout, "
                f"returned {1000 * step:.1f} ms after the last call was recorded",
            )
        )
    return results


@dataclass(frozen=True)
class _Flood:
    rate: float
    """Calls per second, from "go" to the clients' last answer."""
    answered: int
    """Calls answered 200."""
    recorded: int
    """Calls the server recorded."""
    distinct: int
    """Distinct calls among those recorded (by the id in the body)."""
    step: float = 0.0
    """Seconds from the last call's record to expect_calls's return (asyncbdd only)."""

    def whole(self, total: int) -> bool:
        """Whether every one of ``total`` calls was answered 200 and recorded once."""
        return self.answered == self.recorded == self.distinct == total


def _flood_asyncbdd(total: int, mode: str) -> _Flood:
    with asyncbdd.scenario("webhook throughput"):
        receiver = webhook_receiver(RECEIVER)
        with _Clients(receiver.url, total, mode) as clients:
            went = clients.go()
            expect_calls(RECEIVER, total, exactly=False, timeout=120)
            returned = time.monotonic()
            answered, done = clients.result()
        box = captures()
        with box.changed:
            calls = list(box.calls[RECEIVER])
            problems = len(box.strays) + len(box.errors)
    bodies = {call.body for call in calls if call.status == 200}
    if problems:
        raise RuntimeError(f"the capture server had {problems} stray calls or errors")
    last = max(call.received_at for call in calls)
    return _Flood(total / (done - went), answered, len(calls), len(bodies), returned - last)


def _flood_bare(total: int, mode: str) -> _Flood:
    with _ListServer() as server, _Clients(server.url + "/hook", total, mode) as clients:
        went = clients.go()
        answered, done = clients.result()
        calls = list(server.calls)
    return _Flood(total / (done - went), answered, len(calls), len({body for _, body, _ in calls}))


def _tally(floods: Sequence[_Flood]) -> str:
    total = sum(flood.recorded for flood in floods)
    return (
        f"{sum(flood.distinct for flood in floods):,} distinct of {total:,} recorded, "
        f"{sum(flood.answered for flood in floods):,} answered 200"
    )


_CLIENTS = """
import http.client, json, sys, threading, time
host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
threads, each, fresh = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6] == "fresh"
headers = json.loads(sys.argv[7])
go = threading.Event()
answered = [0] * threads

def client(number):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    if not fresh:
        connection.connect()
    ready.release()
    go.wait()
    for call in range(each):
        body = json.dumps({"event": "payment.completed", "order_id": f"ord-{number}-{call}",
                           "amount": 9.5, "status": "completed"}).encode()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        answered[number] += response.status == 200
        if fresh:
            connection.close()
    connection.close()

ready = threading.Semaphore(0)
workers = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
for worker in workers:
    worker.start()
for _ in workers:
    ready.acquire()
print("ready", flush=True)
sys.stdin.readline()
go.set()
for worker in workers:
    worker.join()
print(sum(answered), time.monotonic(), flush=True)
"""


class _Clients:
    """``CLIENT_THREADS`` HTTP clients in a child process, so that they do not share this
    interpreter (and its lock) with the server measured; connected before :meth:`go`.

    ``mode`` is ``"keep-alive"`` (one connection per thread) or ``"fresh"`` (a new
    connection per call). Linux's monotonic clock is the same in both processes.
    """

    def __init__(self, url: str, total: int, mode: str) -> None:
        parts = urllib.parse.urlsplit(url)
        arguments = [parts.hostname or "", str(parts.port), parts.path, str(CLIENT_THREADS)]
        arguments += [str(total // CLIENT_THREADS), mode, json.dumps(_HEADERS)]
        self._child = subprocess.Popen(
            [sys.executable, "-c", _CLIENTS, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._child.stdin is not None
        assert self._child.stdout is not None
        self._stdin, self._stdout = self._child.stdin, self._child.stdout
        if self._stdout.readline().strip() != b"ready":
            self.__exit__()
            raise RuntimeError("the webhook clients did not start")

    def go(self) -> float:
        """Start sending; return when (monotonic)."""
        went = time.monotonic()
        self._stdin.write(b"go\n")
        self._stdin.flush()
        return went

    def result(self) -> tuple[int, float]:
        """Calls answered 200, and when (monotonic) the last answer came; waits for it."""
        line = self._stdout.readline().split()
        if len(line) != 2:
            raise RuntimeError("the webhook clients failed (see their traceback above)")
        return int(line[0]), float(line[1])

    def __enter__(self) -> _Clients:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stdin.close()
        try:
            self._child.wait(30)
        finally:
            if self._child.poll() is None:
                self._child.kill()
                self._child.wait()
            self._stdout.close()


# --------------------------------------------------------------------------------------
# 3. Memory while refusing a stream far over the limit
# --------------------------------------------------------------------------------------


def _memory_refusing(rounds: int) -> Result:
    limit = get_settings().webhooks_max_body_size
    _refuse_stream(4 * MIB)  # the code paths of a refusal run once before measuring
    small = _accept_small()
    refusals = [_refuse_stream(STREAMED) for _ in range(rounds)]
    worst = max(refusal.growth for refusal in refusals)
    answered = all(refusal.status == 413 for refusal in refusals)
    sent = median([refusal.sent / MIB for refusal in refusals])
    return Result(
        "RSS growth refusing 200 MiB chunked",
        worst / MIB,
        "MiB",
        "body limit",
        limit / MIB,
        None,
        target=f"<= {MEMORY_TARGET // MIB} MiB, 413 read",
        met=worst <= MEMORY_TARGET and answered,
        note=f"worst of {rounds} streams against the {limit / MIB:g} MiB default limit "
        f"(VmRSS peak - before, sampled every MiB sent); the client read "
        f"{'413 every time' if answered else 'NOT always 413'} while sending, and sent "
        f"{sent:.1f} MiB (median) before the server closed; accepting a 2 KiB body: "
        f"{small / MIB:+.2f} MiB",
    )


@dataclass(frozen=True)
class _Refusal:
    status: int | None
    growth: int
    """Bytes the resident memory grew by, from before the stream to its peak."""
    sent: int
    """Bytes the client got to send before the server closed the connection."""


def _refuse_stream(total: int) -> _Refusal:
    with asyncbdd.scenario("webhook refusal"):
        receiver = webhook_receiver(RECEIVER)
        parts = urllib.parse.urlsplit(receiver.url)
        head = f"POST {parts.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        head += b"Transfer-Encoding: chunked\r\n\r\n"
        before = _resident()
        with _Stream(parts.port or 80, head, _chunks(total)) as stream:
            status = stream.answer()
        growth = max(stream.peak, _resident()) - before
    return _Refusal(status, growth, stream.sent)


def _accept_small() -> int:
    """Bytes the resident memory grew by while the server accepted one 2 KiB body."""
    with asyncbdd.scenario("webhook small body"):
        receiver = webhook_receiver(RECEIVER)
        parts = urllib.parse.urlsplit(receiver.url)
        before = _resident()
        connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
        try:
            connection.request("POST", parts.path, b"x" * 2048, _HEADERS)
            connection.getresponse().read()
        finally:
            connection.close()
        return _resident() - before


def _resident() -> int:
    """This process's resident memory (VmRSS), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/self/status has no VmRSS line")


def _chunks(total: int, piece: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes of chunks, one chunk object yielded again and again."""
    chunk = b"%x\r\n" % piece + b"x" * piece + b"\r\n"
    for _ in range(total // piece):
        yield chunk
    yield b"0\r\n\r\n"


class _Stream:
    """Sends ``head`` and every piece of ``pieces`` from a thread, while the caller reads
    the answer; samples the resident memory every MiB sent."""

    def __init__(self, port: int, head: bytes, pieces: Iterator[bytes]) -> None:
        self.connection = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.head, self.pieces = head, pieces
        self.sent = 0
        self.peak = _resident()
        self.thread = threading.Thread(target=self._send, daemon=True)

    def __enter__(self) -> _Stream:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.thread.join(10)  # the server closes the connection after its drain
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
        with contextlib.suppress(OSError):  # the server closed: it reads no more
            self.connection.sendall(self.head)
            for number, piece in enumerate(self.pieces):
                self.connection.sendall(piece)
                self.sent += len(piece)
                if number % 16 == 0:
                    self.peak = max(self.peak, _resident())


# --------------------------------------------------------------------------------------
# The hand-written server of the baselines
# --------------------------------------------------------------------------------------


class _ListHandler(BaseHTTPRequestHandler):
    """The hand-written handler: append (path, body, when) to the server's list, answer
    200. HTTP/1.1, so that keep-alive clients keep their connections."""

    protocol_version = "HTTP/1.1"
    server: _BareServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.calls.append((self.path, body, time.monotonic()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


class _BareServer(ThreadingHTTPServer):
    calls: list[tuple[str, bytes, float]]


class _ListServer:
    """A bare ``ThreadingHTTPServer`` (the standard library's defaults, such as its listen
    backlog of 5) with :class:`_ListHandler` on a free port, serving in a thread while in
    use."""

    def __init__(self) -> None:
        self.server = _BareServer(("127.0.0.1", 0), _ListHandler)
        self.server.calls = []
        self.calls = self.server.calls
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _ListServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------

_HEADERS = {"Content-Type": "application/json", "X-Correlation-Id": "cid-bench"}

_PAYMENT = {"event": "payment.completed", "order_id": "ord-1", "amount": 9.5, "status": "completed"}
"""The demo's payment.completed call."""


def _warm_up() -> None:
    """Start the capture server and import what a first call needs."""
    _detection_sample(0.0, exactly=False)
