"""Calling a probe so that it can never hold a wait past its deadline.

A probe is someone else's code: a SQL query against a database that stopped answering,
an HTTP GET with no timeout, an ``async def`` that never completes. :class:`ProbeCaller`
runs each check of a wait in a worker thread of that wait and waits for it only until
the deadline: a check still running then is reported as such, and the wait ends on time
(the thread is left to finish on its own; it is a daemon and never blocks the
interpreter's exit). The worker runs in a copy of the caller's context, so context
variables (the scenario's budget, :mod:`asyncbdd.deadline`) follow it, and the
deadline is set for the check so database calls can bound themselves by it.

What a check returns is awaited when it is awaitable, on a private event loop of the
thread that runs it, and cancelled at the deadline. A wait started from a thread whose
event loop is running refuses coroutines: it would block the very loop they need.

``in_caller_thread=True`` runs checks in the waiting thread itself, for probes bound to
it (a ``sqlite3`` connection made there, a GUI toolkit). A value read after the
deadline still does not pass, but a probe that never returns cannot be interrupted.
"""

from __future__ import annotations

import ast
import asyncio
import contextvars
import functools
import inspect
import os
import queue
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from asyncbdd import deadline
from asyncbdd.errors import InvalidInput

__all__ = ["PATIENCE", "WAKE_EVERY", "Call", "ProbeCaller", "describe"]

T = TypeVar("T")
Clock = Callable[[], float]

PATIENCE = 0.02
"""However close the deadline, a check is waited for this long: handing it to the worker
thread takes time too. Its value still counts only if it came by the deadline."""
WAKE_EVERY = 0.25
"""Longest the waiting thread blocks at once, so that a Ctrl-C that another thread took
is handled within this time rather than at the deadline."""


@dataclass
class Call(Generic[T]):
    """What one check gave: its result or error, and when it ran (on the wait's clock)."""

    started: float
    finished: float | None = None
    """``None``: still running when the deadline came (or cancelled there, if awaited)."""
    result: T | None = None
    error: BaseException | None = None
    cancelled: bool = False
    """An awaited check that was cancelled at the deadline."""

    @property
    def running(self) -> bool:
        """Whether the check had not finished by the deadline."""
        return self.finished is None


class ProbeCaller:
    """Runs the checks of one wait, each bounded by the wait's deadline."""

    def __init__(self, *, clock: Clock, in_caller_thread: bool = False) -> None:
        self._clock = clock
        self._in_caller_thread = in_caller_thread
        self._context = contextvars.copy_context()
        self._caller_loop_running = _loop_running()
        self._requests: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._busy = False
        self._loops = threading.local()

    def call(
        self,
        check: Callable[[], T],
        until: float,
        *,
        wake: threading.Event,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> Call[T]:
        """Run ``check`` and wait for it until ``until`` (on the wait's clock).

        ``wake`` is set when the check finishes; something else may set it too, and
        ``interrupted()`` then tells whether to stop waiting (a tripwire).
        """
        started = self._clock()
        real_deadline = time.monotonic() + max(until - started, 0.0)
        if self._in_caller_thread:
            outcome = Call[T](started)
            try:
                with deadline.until(real_deadline):
                    outcome.result = check()
            except _Cancelled:
                outcome.cancelled = True
                return outcome
            except Exception as error:
                outcome.error = error
            outcome.finished = self._clock()
            return outcome
        future: Future[T] = Future()
        future.add_done_callback(lambda _: wake.set())
        self._start()
        self._busy = True
        self._requests.put((functools.partial(self._bounded, check, real_deadline), future))
        patient_until = time.monotonic() + PATIENCE
        while not future.done():
            left = max(until - self._clock(), patient_until - time.monotonic())
            if left <= 0 or interrupted():
                return Call(started)
            wake.clear()
            if not future.done():
                wake.wait(min(left, WAKE_EVERY))
        self._busy = False
        outcome = Call[T](started, finished=self._clock())
        try:
            outcome.result = future.result()
        except _Cancelled:
            return Call(started, cancelled=True)
        except Exception as error:
            outcome.error = error
        return outcome

    def resolve(self, result: T | Awaitable[T]) -> T:
        """``result``, awaited first if it is awaitable (called inside a check)."""
        if not inspect.isawaitable(result):
            return result
        if self._caller_loop_running:
            _close(result)
            raise InvalidInput(
                "A probe or condition returned a coroutine, but this wait was started "
                "from a running event loop: a synchronous wait would block the loop that "
                "coroutine needs. Run the wait in a thread (await asyncio.to_thread("
                "wait_until, ...)), or give a synchronous probe."
            )
        loop: asyncio.AbstractEventLoop | None = getattr(self._loops, "loop", None)
        if loop is None:
            loop = self._loops.loop = asyncio.new_event_loop()
        try:
            awaited: T = loop.run_until_complete(
                asyncio.wait_for(_awaited(result), deadline.time_left())
            )
        except asyncio.TimeoutError:
            raise _Cancelled from None
        finally:
            _close(result)  # one cancelled before it started was never awaited
        return awaited

    def close(self) -> None:
        """Let the worker thread end; wait for it briefly unless a check still runs."""
        loop = getattr(self._loops, "loop", None)
        if loop is not None:
            loop.close()
        if self._thread is None:
            return
        self._requests.put(None)
        if not self._busy:
            self._thread.join(timeout=WAKE_EVERY)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="asyncbdd-check", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while (request := self._requests.get()) is not None:
            check, future = request
            try:
                future.set_result(self._context.run(check))
            except BaseException as error:  # handed to the waiting thread, never lost
                future.set_exception(error)
        loop = getattr(self._loops, "loop", None)
        if loop is not None:
            loop.close()

    @staticmethod
    def _bounded(check: Callable[[], T], real_deadline: float) -> T:
        with deadline.until(real_deadline):
            return check()


class _Cancelled(BaseException):
    """An awaited check ran into the deadline and was cancelled (a BaseException, so the
    check's own ``except Exception`` cannot mistake it for the probe's error)."""


def describe(function: Callable[..., Any]) -> str:
    """A callable in words: its name, or for a lambda its source text where Python has it."""
    name = getattr(function, "__name__", None)
    if name != "<lambda>":
        return name or repr(function)
    code = function.__code__
    source = _lambda_source(code.co_filename, code.co_firstlineno, _first_column(code))
    return source or f"<lambda> at {os.path.basename(code.co_filename)}:{code.co_firstlineno}"


_MAX_DESCRIPTION = 160


def _lambda_source(filename: str, line: int, column: int | None) -> str | None:
    try:
        stamp = os.stat(filename).st_mtime_ns
    except OSError:
        return None
    candidates = [
        (start, end, text) for lambda_line, start, end, text in _lambdas(filename, stamp)
        if lambda_line == line
    ]  # fmt: skip
    if len(candidates) > 1 and column is not None:
        candidates = [c for c in candidates if c[0] <= column <= c[1]]
    if len(candidates) != 1:
        return None
    text = " ".join(candidates[0][2].split())
    return text if len(text) <= _MAX_DESCRIPTION else text[: _MAX_DESCRIPTION - 1] + "…"


@functools.lru_cache(maxsize=32)
def _lambdas(filename: str, stamp: int) -> tuple[tuple[int, int, int, str], ...]:
    """Every lambda in the file: (line, start column, end column, source text)."""
    try:
        with open(filename, encoding="utf-8") as file:
            source = file.read()
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return ()
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Lambda):
            text = ast.get_source_segment(source, node)
            if text:
                end = node.end_col_offset if node.end_lineno == node.lineno else 10**6
                found.append((node.lineno, node.col_offset, end or 0, textwrap.dedent(text)))
    return tuple(found)


def _first_column(code: Any) -> int | None:
    positions = getattr(code, "co_positions", None)
    if positions is None:  # Python 3.10
        return None
    columns = [column for _, _, column, _ in positions() if column]  # RESUME sits at 0
    return max(columns) if columns else None


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _close(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()  # no "coroutine was never awaited" warning on top of the error
