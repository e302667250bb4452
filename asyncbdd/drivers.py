"""The two drivers that carry out a wait: one blocks a thread, one awaits in an event loop.

Every wait in asyncbdd is written once, as a *plan*: a generator that decides everything
(deadline, strategy, history, hold, ``at_least``, ``fail_if``, tripwires, the failure
message) and yields a command whenever it needs something from the outside world:

* :class:`Check` -- run one check of the probe, bounded by the deadline;
* :class:`Pause` -- let this much time pass, or less if a tripwire trips;
* :class:`Until` -- wait until arrivals make ``ready()`` true, or a point in time;
* :class:`Blocking` -- call a function that may block (open a queue, read a store).

:func:`run` carries a plan out in the calling thread; :func:`run_async` awaits it in the
running event loop and never blocks it: pauses are ``asyncio`` timers, arrivals wake the
task through :class:`~asyncbdd.signals.Changes`, an ``async def`` probe runs on the loop,
and a plain function (a SQL query) runs in a worker thread of the wait, so that a slow
one stalls nothing. A coroutine a plain function returns is awaited on the loop.
This is how tenacity's ``Retrying`` and ``AsyncRetrying`` share one state machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from asyncbdd import deadline
from asyncbdd.errors import InvalidInput, hide_failure_frames
from asyncbdd.probe_calls import PATIENCE, WAKE_EVERY, Call, ProbeCaller
from asyncbdd.signals import Changes, resolve, wait_waking
from asyncbdd.tripwires import Tripwires

__all__ = [
    "Blocking",
    "Check",
    "Evaluation",
    "Pause",
    "Plan",
    "Until",
    "awaitable",
    "blocking",
    "refuse_in_running_loop",
    "relay",
    "run",
    "run_async",
]

__tracebackhide__ = hide_failure_frames

T = TypeVar("T")
P = ParamSpec("P")
Clock = Callable[[], float]

Evaluation = Generator[Awaitable[Any], Any, T]
"""One check's work (probe, condition, fail_if): a generator that yields each awaitable
they return and is sent what it resolved to, so that one body serves both drivers."""


@dataclass(frozen=True)
class Check:
    """Run ``evaluation()`` once, waiting for it until ``until`` on ``clock``; the plan is
    sent a :class:`~asyncbdd.probe_calls.Call` with its outcome and timing."""

    evaluation: Callable[[], Evaluation[Any]]
    caller: ProbeCaller
    until: float
    clock: Clock
    interrupted: Callable[[], bool]
    on_loop: bool
    """For the asyncio driver: run the evaluation on the loop (the probe is ``async``)
    rather than in a worker thread."""


@dataclass(frozen=True)
class Pause:
    """Let ``seconds`` pass (on ``sleep``, if the wait was given one), ending at once when
    one of ``tripwires`` trips; the plan is sent ``None``."""

    seconds: float
    tripwires: Tripwires | None
    sleep: Callable[[float], object] | None = None


@dataclass(frozen=True)
class Until:
    """Wait on ``changes`` until ``ready()`` holds (called with its lock held), a tripwire
    trips, or the monotonic time ``until``; the plan is sent whether ``ready()`` held."""

    changes: Changes
    ready: Callable[[], bool]
    until: float
    tripwires: Tripwires | None


@dataclass(frozen=True)
class Blocking:
    """Call ``function`` (it may block on I/O); the plan is sent what it returned, or its
    exception is raised into the plan."""

    function: Callable[[], Any]


Command = Check | Pause | Until | Blocking
Plan = Generator[Command, Any, T]
"""A wait, written once: it yields commands and returns the wait's result."""


# --------------------------------------------------------------------------------------
# The sync driver
# --------------------------------------------------------------------------------------


def run(plan: Plan[T]) -> T:
    """Carry ``plan`` out in this thread and return its result."""
    with contextlib.closing(plan):
        answer: Any = None
        failure: Exception | None = None
        while True:
            done, command = _resume(plan, answer, failure)
            if done:
                return command  # type: ignore[no-any-return]
            answer, failure = None, None
            try:
                answer = _carry_out(command)
            except Exception as error:  # raised into the plan, which decides
                failure = error


def relay(plan: Plan[T], substitute: Callable[[Command], Plan[Any] | None]) -> Plan[T]:
    """``plan``, with each command that ``substitute(command)`` gives a plan for carried
    out by that plan instead (its result is the command's answer); the others pass on to
    the driver. A trace store whose pauses a driver must not make uses it."""
    with contextlib.closing(plan):
        answer: Any = None
        failure: Exception | None = None
        while True:
            done, command = _resume(plan, answer, failure)
            if done:
                return command  # type: ignore[no-any-return]
            answer, failure = None, None
            try:
                instead = substitute(command)
                answer = (yield command) if instead is None else (yield from instead)
            except Exception as error:  # raised into the plan, as a driver does
                failure = error


def _resume(plan: Plan[Any], answer: Any, failure: Exception | None) -> tuple[bool, Any]:
    """Give ``plan`` the answer to its last command (or raise ``failure`` into it):
    ``(False, its next command)``, or ``(True, its result)`` once it returned."""
    try:
        return False, (plan.send(answer) if failure is None else plan.throw(failure))
    except StopIteration as stop:
        return True, stop.value


def _carry_out(command: Command) -> Any:
    if isinstance(command, Check):
        caller = command.caller
        return caller.call(
            lambda: _settle(command.evaluation(), caller.resolve),
            command.until,
            interrupted=command.interrupted,
        )
    if isinstance(command, Pause):
        _pause(command)
        return None
    if isinstance(command, Until):
        return _until(command)
    return command.function()


def _settle(evaluation: Evaluation[T], resolve: Callable[[Awaitable[Any]], Any]) -> T:
    """Run ``evaluation`` to its end in this thread, resolving what it yields."""
    step: Callable[[], Awaitable[Any]] = functools.partial(next, evaluation)
    while True:
        try:
            awaitable = step()
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        try:
            value = resolve(awaitable)
        except Exception as error:
            step = functools.partial(evaluation.throw, error)
        else:
            step = functools.partial(evaluation.send, value)


def _pause(command: Pause) -> None:
    if command.sleep is not None:
        command.sleep(command.seconds)
        return
    tripwires = command.tripwires
    if tripwires is None:
        time.sleep(command.seconds)
        return
    wake = threading.Event()
    until = time.monotonic() + command.seconds
    with tripwires.waking(wake.set):
        while (left := until - time.monotonic()) > 0 and tripwires.trip is None:
            wake.wait(min(left, WAKE_EVERY))


def _until(command: Until) -> bool:
    with command.changes:
        return wait_waking(command.changes, command.ready, command.until, command.tripwires)


# --------------------------------------------------------------------------------------
# The asyncio driver
# --------------------------------------------------------------------------------------


async def run_async(plan: Plan[T]) -> T:
    """Carry ``plan`` out in the running event loop, never blocking it; return its result."""
    with contextlib.closing(plan):
        answer: Any = None
        failure: Exception | None = None
        while True:
            done, command = _resume(plan, answer, failure)
            if done:
                return command  # type: ignore[no-any-return]
            answer, failure = None, None
            try:
                answer = await _carry_out_async(command)
            except Exception as error:
                failure = error


async def _carry_out_async(command: Command) -> Any:
    if isinstance(command, Check):
        return await _check_async(command)
    if isinstance(command, Pause):
        await _pause_async(command)
        return None
    if isinstance(command, Until):
        return await _until_async(command)
    return await asyncio.to_thread(command.function)


async def _check_async(command: Check) -> Call[Any]:
    """One check: its synchronous parts on the loop or in the wait's worker thread, what
    they return awaited on the loop; abandoned (a thread) or cancelled (an awaitable) at
    the deadline, or when a tripwire trips."""
    clock, caller = command.clock, command.caller
    started = clock()
    left = max(command.until - started, 0.0)
    real_deadline = time.monotonic() + left
    awaiting = [False]

    async def settle() -> Any:
        evaluation = command.evaluation()
        step: Callable[[], Any] = functools.partial(next, evaluation)
        while True:
            awaiting[0] = False
            if command.on_loop:
                done, item = _advance(step)
            else:
                stretch = functools.partial(_advance, step)
                done, item = await caller.run_async(stretch, real_deadline)
            if done:
                return item
            awaiting[0] = True
            try:
                value = await item
            except Exception as error:
                step = functools.partial(evaluation.throw, error)
            else:
                step = functools.partial(evaluation.send, value)

    with deadline.until(real_deadline):
        task = asyncio.ensure_future(settle())
        try:
            finished = await _first_of(task, left + PATIENCE, command.interrupted)
        except BaseException:
            task.cancel()
            raise
    if not finished:
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return Call(started, cancelled=awaiting[0])
    outcome = Call[Any](started, finished=clock())
    error = task.exception()
    if error is None:
        outcome.result = task.result()
    elif isinstance(error, Exception):
        outcome.error = error
    else:
        raise error
    return outcome


def _advance(step: Callable[[], Any]) -> tuple[bool, Any]:
    """One synchronous stretch of an evaluation: ``(True, result)`` when it ended,
    ``(False, awaitable)`` when it yielded one (no StopIteration crosses a thread)."""
    try:
        return False, step()
    except StopIteration as stop:
        return True, stop.value


async def _first_of(
    task: asyncio.Future[Any], seconds: float, interrupted: Callable[[], bool]
) -> bool:
    """Whether ``task`` finished within ``seconds``; asks ``interrupted()`` (a tripwire)
    every :data:`WAKE_EVERY` seconds, as the sync driver does."""
    until = time.monotonic() + seconds
    while True:
        left = until - time.monotonic()
        done, _ = await asyncio.wait({task}, timeout=max(min(left, WAKE_EVERY), 0.0))
        if done:
            return True
        if left <= WAKE_EVERY or interrupted():
            return False


async def _pause_async(command: Pause) -> None:
    sleep = command.sleep
    if sleep is not None:  # a plain one may block: not on the loop
        slept: object = (
            sleep(command.seconds)
            if inspect.iscoroutinefunction(sleep)
            else await asyncio.to_thread(sleep, command.seconds)
        )
        if inspect.isawaitable(slept):
            await slept
        return
    tripwires = command.tripwires
    if tripwires is None:
        await asyncio.sleep(command.seconds)
        return
    loop = asyncio.get_running_loop()
    over: asyncio.Future[None] = loop.create_future()
    timer = loop.call_later(command.seconds, resolve, over)

    def wake() -> None:  # from the thread that watches the tripwires
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(resolve, over)

    try:
        with tripwires.waking(wake):
            if tripwires.trip is None:
                await over
    finally:
        timer.cancel()


async def _until_async(command: Until) -> bool:
    tripwires, changes = command.tripwires, command.changes
    if tripwires is None:
        return await changes.until(command.ready, command.until)

    def wake() -> None:  # from the thread that watches the tripwires
        with changes:
            changes.notify_all()

    with tripwires.waking(wake):
        await changes.until(lambda: tripwires.trip is not None or command.ready(), command.until)
    with changes:
        return command.ready()


# --------------------------------------------------------------------------------------
# Making the two public functions of one plan
# --------------------------------------------------------------------------------------


def blocking(plan: Callable[P, Plan[T]]) -> Callable[P, T]:
    """The blocking function of ``plan``: it runs the plan in the calling thread. Its
    name is the plan's, without a ``_plan`` ending (``expect_messages_plan`` makes
    ``expect_messages``).

    Called inside a running event loop it refuses at once, naming its twin in
    :mod:`asyncbdd.aio`: blocking there would stall every task of the loop, the very
    tasks that may be about to make the condition true.
    """
    name = _public_name(plan)

    @functools.wraps(plan)
    def wait(*args: P.args, **kwargs: P.kwargs) -> T:
        refuse_in_running_loop(name)
        loop = idle_loop_of_this_thread()
        if loop is not None:  # its tasks (the system under test?) go on while this waits
            return loop.run_until_complete(run_async(plan(*args, **kwargs)))
        return run(plan(*args, **kwargs))

    wait.__name__ = wait.__qualname__ = name
    return wait


def idle_loop_of_this_thread() -> asyncio.AbstractEventLoop | None:
    """The event loop set for this thread, if it is open, not running and has tasks
    scheduled on it (behave's ``async def`` steps leave their loop so between steps).

    A blocking wait runs its plan on that loop rather than beside it: the tasks that an
    async step started keep running while a plain step waits for what they do.
    """
    local = getattr(asyncio.get_event_loop_policy(), "_local", None)
    loop = getattr(local, "_loop", None)
    if not isinstance(loop, asyncio.AbstractEventLoop) or loop.is_closed() or loop.is_running():
        return None
    return loop if asyncio.all_tasks(loop) else None


def awaitable(plan: Callable[P, Plan[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
    """The ``async def`` twin of ``plan``: it awaits the plan in the running loop."""

    @functools.wraps(plan)
    async def wait(*args: P.args, **kwargs: P.kwargs) -> T:
        return await run_async(plan(*args, **kwargs))

    wait.__name__ = wait.__qualname__ = _public_name(plan)
    wait.__module__ = "asyncbdd.aio"
    return wait


def _public_name(plan: Callable[..., Any]) -> str:
    name: str = plan.__name__
    return name.removesuffix("_plan")


def refuse_in_running_loop(name: str) -> None:
    """Raise :class:`~asyncbdd.errors.InvalidInput` if this thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise InvalidInput(
        f"{name}() blocks, and it was called inside a running event loop: every task of "
        f"the loop would stall while it waits, including the ones that make its condition "
        f"true. Await its twin instead: `await asyncbdd.aio.{name}(...)` (same arguments; "
        "probes and conditions may be async def)."
    )
