"""Calling a probe so that it can never hold a wait past its deadline.

A probe is someone else's code: a SQL query against a database that stopped answering,
an HTTP GET with no timeout, an ``async def`` that never completes. :class:`ProbeCaller`
runs each check of a wait in a worker thread and waits for it only until the deadline: a
check still running then is reported as such, and the wait ends on time (the thread is
left to finish on its own; it is a daemon and never blocks the interpreter's exit).
Idle workers are pooled for the next wait, and stopped at the end of a run
(:func:`stop_idle_workers`). The worker runs in a copy of the caller's context, so context
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
import contextlib
import contextvars
import functools
import inspect
import os
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from asyncbdd import deadline
from asyncbdd.errors import InvalidInput, hide_failure_frames

__all__ = ["PATIENCE", "WAKE_EVERY", "Call", "ProbeCaller", "describe", "stop_idle_workers"]

__tracebackhide__ = hide_failure_frames

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


class ProbeCaller:
    """Runs the checks of one wait, each bounded by the wait's deadline."""

    def __init__(self, *, clock: Clock, in_caller_thread: bool = False) -> None:
        self._clock = clock
        self._in_caller_thread = in_caller_thread
        self._context = contextvars.copy_context()
        self._caller_loop_running = _loop_running()
        self._worker: _Worker | None = None
        self._busy = False

    def call(
        self,
        check: Callable[[], T],
        until: float,
        *,
        interrupted: Callable[[], bool] = lambda: False,
    ) -> Call[T]:
        """Run ``check`` and wait for it until ``until`` (on the wait's clock), or until
        ``interrupted()`` (a tripwire), asked every :data:`WAKE_EVERY` seconds."""
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
        if self._worker is None:
            self._worker = _Worker.take()
        self._busy = True
        self._worker.post(self._context, functools.partial(self._bounded, check, real_deadline))
        patient_until = time.monotonic() + PATIENCE
        while True:
            left = max(until - self._clock(), patient_until - time.monotonic())
            if self._worker.answered(timeout=min(max(left, 0.0), WAKE_EVERY)):
                break
            if left <= 0 or interrupted():
                return Call(started)
        self._busy = False
        outcome = Call[T](started, finished=self._clock())
        succeeded, value = self._worker.outcome
        if succeeded:
            outcome.result = value
        elif isinstance(value, _Cancelled):
            return Call(started, cancelled=True)
        elif isinstance(value, Exception):
            outcome.error = value
        else:
            raise value  # KeyboardInterrupt, SystemExit: not the probe's verdict
        return outcome

    async def run_async(self, function: Callable[[], T], real_deadline: float) -> T:
        """Run ``function`` in this wait's worker thread and await its answer without
        blocking the running loop. If the awaiting task is cancelled (the deadline came),
        the call is left to finish on its own and its worker is not reused."""
        loop = asyncio.get_running_loop()
        answered: asyncio.Future[None] = loop.create_future()

        def tell() -> None:  # in the worker thread, once its outcome is set
            loop.call_soon_threadsafe(_settle_future, answered)

        if self._worker is None:
            self._worker = _Worker.take()
        worker = self._worker
        self._busy = True
        worker.post(
            self._context, functools.partial(self._bounded, function, real_deadline), tell
        )
        await answered
        self._busy = False
        worker.answered(timeout=0)  # take the answer the worker gave
        succeeded, value = worker.outcome
        if succeeded:
            return value  # type: ignore[no-any-return]
        raise value

    def resolve(self, result: T | Awaitable[T]) -> T:
        """``result``, awaited first if it is awaitable (called inside a check)."""
        if not inspect.isawaitable(result):
            return result
        if self._caller_loop_running:
            _close(result)
            raise InvalidInput(
                "A probe or condition returned a coroutine, but this wait was started "
                "from a running event loop: a synchronous wait would block the loop that "
                "coroutine needs. Await its twin in asyncbdd.aio instead (await "
                "asyncbdd.aio.wait_until(...)), or give a synchronous probe."
            )
        loop: asyncio.AbstractEventLoop | None = getattr(_loops, "loop", None)
        if loop is None:
            loop = _loops.loop = asyncio.new_event_loop()
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
        """Give the worker back for the next wait, unless a check of this one still runs
        (that worker ends once the check returns)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.give_back(busy=self._busy)
        if self._in_caller_thread:
            _close_loop()

    @staticmethod
    def _bounded(check: Callable[[], T], real_deadline: float) -> T:
        with deadline.until(real_deadline):
            return check()


class _Worker:
    """A thread that runs one check at a time for whichever wait holds it.

    Checks are handed over with two locks, the cheapest handoff between two threads;
    idle workers wait in a pool for the next wait, so a wait starts no thread of its
    own. One whose check was still running at a deadline is never reused: it ends when
    that check returns.
    """

    def __init__(self) -> None:
        self._request: tuple[contextvars.Context, Callable[[], Any]] | None = None
        self._on_answer: Callable[[], object] | None = None
        self.outcome: tuple[bool, Any] = (False, None)
        self._posted = threading.Lock()
        self._posted.acquire()
        self._answered = threading.Lock()
        self._answered.acquire()
        self.thread = threading.Thread(target=self._work, name="asyncbdd-check", daemon=True)
        self.thread.start()

    @classmethod
    def take(cls) -> _Worker:
        """An idle worker from the pool, or a new one."""
        with _pool_lock:
            if _idle:
                return _idle.pop()
        return cls()

    def post(
        self,
        context: contextvars.Context,
        check: Callable[[], Any],
        on_answer: Callable[[], object] | None = None,
    ) -> None:
        """Hand ``check`` over; ``on_answer`` is called from the worker once it answered."""
        self._request = (context, check)
        self._on_answer = on_answer
        self._posted.release()

    def answered(self, timeout: float) -> bool:
        return self._answered.acquire(timeout=timeout)

    def give_back(self, *, busy: bool) -> None:
        if busy:
            self.stop()
            return
        with _pool_lock:
            if len(_idle) < _POOL_SIZE:
                _idle.append(self)
                return
        self.stop()

    def stop(self) -> None:
        """End the thread once it is idle (at once if it is)."""
        self._request = None
        self._posted.release()

    def _work(self) -> None:
        while True:
            self._posted.acquire()
            request = self._request
            if request is None:
                break
            context, check = request
            try:
                self.outcome = (True, context.run(check))
            except BaseException as error:  # handed to the waiting thread, never lost
                self.outcome = (False, error)
            on_answer, self._on_answer = self._on_answer, None
            self._answered.release()
            if on_answer is not None:
                with contextlib.suppress(RuntimeError):  # the waiting loop closed meanwhile
                    on_answer()
        _close_loop()


def stop_idle_workers() -> None:
    """End the pooled worker threads (at the end of a run): the process holds afterwards
    the threads it held before."""
    with _pool_lock:
        idle = list(_idle)
        _idle.clear()
    for worker in idle:
        worker.stop()
    for worker in idle:
        worker.thread.join(timeout=WAKE_EVERY)


_POOL_SIZE = 64
"""Idle workers kept for later waits; concurrent waits beyond it start their own."""
_idle: list[_Worker] = []
_pool_lock = threading.Lock()
_loops = threading.local()
"""Each thread's private event loop, for the coroutines its checks return."""


def _close_loop() -> None:
    loop = getattr(_loops, "loop", None)
    if loop is not None:
        loop.close()
        _loops.loop = None


class _Cancelled(BaseException):
    """An awaited check ran into the deadline and was cancelled (a BaseException, so the
    check's own ``except Exception`` cannot mistake it for the probe's error)."""


def describe(function: Callable[..., Any]) -> str:
    """A callable in words: its name, for a lambda its source text where Python has it,
    for a ``functools.partial`` the call it stands for (``order_status('ord-1')``)."""
    if isinstance(function, functools.partial):
        arguments = [repr(value) for value in function.args]
        arguments += [f"{key}={value!r}" for key, value in function.keywords.items()]
        return f"{describe(function.func)}({', '.join(arguments)})"
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


def _settle_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


def _close(awaitable: object) -> None:
    close = getattr(awaitable, "close", None)
    if callable(close):
        close()  # no "coroutine was never awaited" warning on top of the error
