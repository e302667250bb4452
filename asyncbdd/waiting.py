"""The poll engine's state machine: every wait of a probe, written once as a plan.

A plan decides everything about a wait -- the deadline and timeout scale, the interval
strategy, the history of values, ``hold``, ``at_least``, ``fail_if``, ``max_checks``,
tripwires, late values, the failure message -- and yields a command whenever it needs the
outside world (:mod:`asyncbdd.drivers`): a bounded check of the probe, a pause. The
blocking API (:mod:`asyncbdd.wait`) and the awaitable one (:mod:`asyncbdd.aio`) are the
same plans, carried out by the two drivers. Semantics are documented in
:mod:`asyncbdd.wait`.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from asyncbdd.budget import Seconds, reserve_deadline
from asyncbdd.deprecation import warn_deprecated
from asyncbdd.drivers import Check as CheckNow
from asyncbdd.drivers import Evaluation, Pause, Plan
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import (
    DatabaseTimeout,
    InvalidInput,
    TripwireTripped,
    WaitAborted,
    WaitTimeout,
    hide_failure_frames,
)
from asyncbdd.evidence.model import Section
from asyncbdd.evidence.progress import progress_for
from asyncbdd.evidence.record import record_wait
from asyncbdd.intervals import Fixed, IntervalStrategy, as_strategy, next_pause
from asyncbdd.probe_calls import PATIENCE, Call, ProbeCaller, describe
from asyncbdd.tripwires import current_tripwires
from asyncbdd.wait_state import NOTHING, Check, Swallowed, WaitState, short, show, wait_evidence

__all__ = ["Ignore", "WaitOutcome", "met_within", "wait_stays", "wait_until", "wait_until_asserted"]

__tracebackhide__ = hide_failure_frames

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], object]
Ignore = tuple[type[BaseException], ...] | Callable[[BaseException], bool]
"""Exceptions that mean "not yet": a tuple of types, or a predicate on the exception."""


# --------------------------------------------------------------------------------------
# What the engine offers
# --------------------------------------------------------------------------------------


def wait_until(
    probe: Callable[[], T],
    condition: Callable[[T], object] = bool,
    *,
    timeout: Seconds | None = None,
    at_least: Seconds = 0.0,
    hold: Seconds = 0.0,
    poll_delay: Seconds = 0.0,
    interval: IntervalStrategy | Seconds | None = None,
    ignore: Ignore = (),
    fail_if: Callable[[T], object] | None = None,
    max_checks: int | None = None,
    description: str | None = None,
    on_timeout: Callable[[WaitState[T]], str | Section | None] | None = None,
    on_check: Callable[[Check[T]], object] | None = None,
    in_caller_thread: bool = False,
    clock: Clock = time.monotonic,
    sleep: Sleep | None = None,
) -> Plan[T]:
    """Call ``probe`` until ``condition(value)`` is truthy; return that value.

    ``condition`` raising ``AssertionError`` means "not yet"; the last such error is
    reported and chained if the wait times out. Either may be ``async def``.

    :param timeout: the deadline ("at most"); default: setting ``asyncbdd.timeout``.
    :param at_least: fail if the condition holds before this much time has passed.
    :param hold: once true, the condition must stay true this long (within ``timeout``).
    :param poll_delay: wait this long before the first check.
    :param interval: pause strategy between checks, or fixed seconds.
    :param ignore: exceptions from ``probe`` or ``condition`` that mean "not yet" (types,
        or a predicate on the exception); they are recorded.
    :param fail_if: a terminal state: when ``fail_if(value)`` is truthy, fail at once; text
        it returns is the reason the failure gives. If it raises, the wait fails at once
        with its exception chained.
    :param max_checks: fail after this many checks, even before the deadline.
    :param description: what is awaited, in the caller's words (the step text).
    :param on_timeout: called once on failure; its text (or evidence
        :class:`~asyncbdd.evidence.Section`) is appended to the message.
    :param on_check: called after every check with its :class:`Check`.
    :param in_caller_thread: run checks in this thread (see :mod:`asyncbdd.probe_calls`):
        a late value still fails, but a hung probe cannot be interrupted. Awaited, a
        plain-function probe then runs on the event loop instead of a worker thread.
    :raises WaitTimeout: the deadline passed (``WaitAborted`` if stopped early,
        ``TripwireTripped`` when a tripwire of the scenario tripped).
    :raises InvalidInput: the wait could never pass as asked (see the module's notes).
    :raises BudgetExceeded: the deadline exceeds what is left of an active time budget.
    """
    with _Wait(
        probe,
        condition,
        description=description,
        timeout=timeout,
        interval=interval,
        ignore=ignore,
        fail_if=fail_if,
        max_checks=max_checks,
        on_timeout=on_timeout,
        on_check=on_check,
        in_caller_thread=in_caller_thread,
        clock=clock,
        sleep=sleep,
    ) as wait:
        if wait.state.timeout <= 0:
            raise InvalidInput(
                "A wait's timeout must be longer than 0: a value can only pass if it was "
                "read by the deadline. To read a value once, call the probe."
            )
        minimum, window, delay = to_seconds(at_least), to_seconds(hold), to_seconds(poll_delay)
        wait.refuse_longer(
            ("hold window", window), ("minimum time", minimum), ("poll delay", delay)
        )
        yield from wait.pause(delay)
        held_since: float | None = None
        while True:
            check = yield from wait.check()
            if check.satisfied and not wait.late(check):
                if check.started < minimum:
                    wait.fail(
                        f"it held after {format_duration(check.started)}, earlier than the "
                        f"minimum of {format_duration(minimum)}",
                        aborted=True,
                    )
                held_since = check.started if held_since is None else held_since
                if check.started - held_since >= window:
                    return check.value  # type: ignore[return-value]
            elif not check.satisfied:
                held_since = None
            if wait.deadline_passed() or wait.late(check):
                break
            yield from wait.pause(wait.next_interval())
        if check.satisfied and wait.late(check):
            wait.fail(
                "the deadline passed: the last check read a matching value, but only "
                f"{format_duration(check.finished - wait.state.timeout)} after the deadline, "
                "and a value read late does not pass"
            )
        if held_since is not None:
            wait.fail(
                f"it held for only {format_duration(wait.state.timeout - held_since)} of the "
                f"required {format_duration(window)}"
            )
        return wait.fail("the deadline passed")


def wait_stays(
    probe: Callable[[], T],
    condition: Callable[[T], object] = bool,
    duration: Seconds | None = None,
    *,
    during: Seconds | None = None,
    interval: IntervalStrategy | Seconds | None = None,
    ignore: Ignore = (),
    fail_if: Callable[[T], object] | None = None,
    description: str | None = None,
    on_timeout: Callable[[WaitState[T]], str | Section | None] | None = None,
    on_check: Callable[[Check[T]], object] | None = None,
    in_caller_thread: bool = False,
    clock: Clock = time.monotonic,
    sleep: Sleep | None = None,
) -> Plan[T]:
    """Check that ``condition`` holds now and at every check ``during`` a window
    (default 1 s; ``duration``, positional, is its deprecated old name).

    The window is not scaled by ``timeout_scale``: it is part of what is asserted. Fails
    at the first check where the condition does not hold, or where ``fail_if(value)`` is
    truthy (text it returns is the reason given, as for :func:`wait_until`). The last
    check starts at the window's end; if it has not answered 250 ms later (or twice the
    slowest check so far), the stay could not be confirmed and fails. Returns the last
    value.
    """
    with _Wait(
        probe,
        condition,
        description=description,
        timeout=_window(during, duration),
        interval=interval,
        ignore=ignore,
        fail_if=fail_if,
        on_timeout=on_timeout,
        on_check=on_check,
        in_caller_thread=in_caller_thread,
        clock=clock,
        sleep=sleep,
        scaled=False,
    ) as wait:
        wait.state.limit_name = "window"
        while True:
            check = yield from wait.check()
            if not check.satisfied:
                wait.fail(
                    f"it stopped holding after {format_duration(check.finished or 0.0)} of "
                    f"the required {format_duration(wait.state.timeout)}",
                    aborted=True,
                )
            if wait.deadline_passed():
                return check.value  # type: ignore[return-value]
            yield from wait.pause(wait.next_interval())


def wait_until_asserted(
    probe: Callable[[], T],
    assertion: Callable[[T], object] | None = None,
    *,
    timeout: Seconds | None = None,
    description: str | None = None,
    **options: Any,
) -> Plan[T]:
    """Call ``probe`` until ``assertion(value)`` stops raising ``AssertionError``; return
    the value (Awaitility's ``untilAsserted``).

    With one argument, ``probe`` is itself the assertion: it is called until it stops
    raising ``AssertionError``, and what it returns is returned. Either may be
    ``async def``. Other options are those of :func:`wait_until`.
    """
    if assertion is None:
        ignore = options.pop("ignore", ())
        result: T = yield from wait_until(
            probe,
            _always,
            timeout=timeout,
            description=description or describe(probe),
            ignore=_either(ignore, (AssertionError,)),
            **options,
        )
        return result
    value: T = yield from wait_until(
        probe,
        _Asserting(assertion),
        timeout=timeout,
        description=description or f"{describe(probe)} passes {describe(assertion)}",
        **options,
    )
    return value


@dataclass(frozen=True)
class WaitOutcome(Generic[T]):
    """Whether a soft wait was met, the last value it read, and the failure it would have
    raised. True when met."""

    met: bool
    value: T | None
    failure: WaitTimeout | None = None

    def __bool__(self) -> bool:
        return self.met


def met_within(
    probe: Callable[[], T], condition: Callable[[T], object] = bool, **options: Any
) -> Plan[WaitOutcome[T]]:
    """:func:`wait_until`, but say whether it held instead of raising when it did not.

    Input errors still raise, and so does a tripwire of the scenario: it fails the
    scenario whatever a step does with the answer.
    """
    try:
        return WaitOutcome(True, (yield from wait_until(probe, condition, **options)))
    except TripwireTripped:
        raise
    except WaitTimeout as failure:
        state = failure.state
        last = state.last_value if isinstance(state, WaitState) and state.has_value else None
        return WaitOutcome(False, last, failure)


# --------------------------------------------------------------------------------------
# Private: the loop's moving parts and the failure message
# --------------------------------------------------------------------------------------


@dataclass
class _Evaluation(Generic[T]):
    """What one check computed, in the thread that ran it."""

    value: T = NOTHING
    satisfied: bool | None = None
    returned_none: bool = False
    failure: BaseException | None = None
    swallowed: bool = False
    verdict: object = None
    verdict_error: Exception | None = None


class _Wait(Generic[T]):
    def __init__(
        self,
        probe: Callable[[], T],
        condition: Callable[[T], object],
        *,
        description: str | None,
        timeout: Seconds | None,
        interval: IntervalStrategy | Seconds | None,
        ignore: Ignore,
        fail_if: Callable[[T], object] | None,
        on_timeout: Callable[[WaitState[T]], str | Section | None] | None,
        on_check: Callable[[Check[T]], object] | None,
        in_caller_thread: bool,
        clock: Clock,
        sleep: Sleep | None,
        max_checks: int | None = None,
        scaled: bool = True,
    ) -> None:
        for role, function in (("probe", probe), ("condition", condition), ("fail_if", fail_if)):
            if function is not None and not callable(function):
                raise InvalidInput(
                    f"The {role} of a wait must be callable; got {function!r}. Pass a "
                    "function (or lambda) that reads the value, not the value read once."
                )
        if max_checks is not None and (isinstance(max_checks, bool) or not isinstance(
            max_checks, int
        ) or max_checks < 1):  # fmt: skip
            raise InvalidInput(f"max_checks is a whole number, 1 or more; got {max_checks!r}.")
        description = description or describe(probe)
        seconds, scale = reserve_deadline(timeout, f"Waiting for {description}", scaled=scaled)
        self.probe, self.condition, self.fail_if = probe, condition, fail_if
        self.ignored = _as_predicate(ignore)
        self.max_checks, self.on_timeout, self.on_check = max_checks, on_timeout, on_check
        self.clock, self.sleep = clock, sleep
        self.state: WaitState[T] = WaitState(
            description=description,
            timeout=seconds,
            interval=as_strategy(interval),
            clock=clock,
            scale=scale,
        )
        if isinstance(self.state.interval, Fixed) and 0 < seconds <= self.state.interval.seconds:
            raise InvalidInput(
                f"The interval ({format_duration(self.state.interval.seconds)}) is not "
                f"shorter than the {self.state.limit_name} ({format_duration(seconds)}): it "
                "would check only at the start and at the end. Give a shorter interval."
            )
        self.caller = ProbeCaller(clock=clock, in_caller_thread=in_caller_thread)
        self.on_loop = in_caller_thread or _is_async(probe)
        self.tripwires = current_tripwires()
        self.slowest = 0.0
        self.started_monotonic = time.monotonic()
        self.state.started = clock()
        self.progress = progress_for(description, seconds)

    def __enter__(self) -> _Wait[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.caller.close()
        if exc_info[0] is None:  # it passed: its timing is kept too
            record_wait(wait_evidence(self.state, None))

    def refuse_longer(self, *limits: tuple[str, float]) -> None:
        """Refuse a window that leaves the condition no time before the deadline."""
        timeout = self.state.timeout
        for what, seconds in limits:
            if seconds and seconds >= timeout:
                relation = "as long as" if seconds == timeout else "longer than"
                raise InvalidInput(
                    f"The {what} ({format_duration(seconds)}) is {relation} the deadline "
                    f"({format_duration(timeout)}, timeout scale included); it could never "
                    "pass, or only by a race at the deadline. Give a longer timeout, or a "
                    f"shorter {what}."
                )

    def check(self) -> Plan[Check[T]]:
        """One check, bounded by the deadline; fails the wait if it cannot give a verdict
        in time, if a tripwire tripped, or if ``fail_if`` says so."""
        state = self.state
        if self.max_checks is not None and state.attempts >= self.max_checks:
            self.fail(f"it did not hold within the {self.max_checks} checks allowed (max_checks)")
        self._raise_if_tripped()
        state.attempts += 1
        call: Call[_Evaluation[T]] = yield CheckNow(
            self._evaluation,
            self.caller,
            state.started + state.timeout + self._overrun(),
            self.clock,
            self._tripped,
            self.on_loop,
        )
        started = call.started - state.started
        if call.finished is None:
            self._raise_if_tripped()
            running = "was cancelled" if call.cancelled else "was still running"
            end = f"at the {state.limit_name}'s end"
            if self._overrun():
                end = f"{format_duration(self._overrun())} after the {state.limit_name}'s end"
            self.fail(
                f"check {state.attempts} {running} {end}: it had run for "
                f"{format_duration(state.elapsed - started)}, and a value it reads later "
                "cannot count"
            )
        if call.error is not None:
            self._raise(call.error, call)
        finished = call.finished - state.started
        self.slowest = max(self.slowest, finished - started)
        evaluation = call.result
        assert evaluation is not None
        if evaluation.swallowed:
            assert evaluation.failure is not None
            state.swallowed.append(Swallowed(evaluation.failure, finished))
        if evaluation.value is not NOTHING:
            state.observe(evaluation.value, finished)
        if evaluation.satisfied is not None or evaluation.swallowed:
            state.last_failure = evaluation.failure  # only the latest failure explains a timeout
        if evaluation.satisfied is not None:
            state.verdicts += 1
            state.verdicts_none += evaluation.returned_none
        check = Check(
            attempt=state.attempts,
            started=started,
            finished=finished,
            value=None if evaluation.value is NOTHING else evaluation.value,
            satisfied=evaluation.satisfied,
            error=evaluation.failure,
        )
        if self.on_check is not None:
            self.on_check(check)
        if self.progress is not None:
            self.progress.update(finished, self._status)
        if evaluation.verdict_error is not None:
            error = evaluation.verdict_error
            self.fail(
                f"its fail_if check raised {type(error).__name__}: {short(str(error))}",
                aborted=True,
                cause=error,
            )
        if evaluation.verdict:
            verdict = evaluation.verdict
            self.fail(
                verdict
                if isinstance(verdict, str)
                else f"it reached a state it must never reach: {show(evaluation.value)}",
                aborted=True,
            )
        return check

    def _raise(self, error: BaseException, call: Call[Any]) -> NoReturn:
        """Raise what a check raised (and did not ignore); a database call that a probe
        made and that ran out of the wait's time fails the wait, with its report."""
        assert call.finished is not None
        left = self.state.timeout + self._overrun() - (call.finished - self.state.started)
        if isinstance(error, DatabaseTimeout) and left <= PATIENCE:
            self.fail(
                f"check {self.state.attempts} was stopped at the {self.state.limit_name}'s "
                f"end: {short(str(error))}",
                cause=error,
            )
        raise error

    def late(self, check: Check[T]) -> bool:
        """Whether ``check`` finished after the deadline (its value cannot pass)."""
        return check.finished > self.state.timeout

    def deadline_passed(self) -> bool:
        return self.state.timeout - self.state.elapsed < _RESOLUTION

    def _overrun(self) -> float:
        """How long after the window's end a stay's last check may still answer."""
        if self.state.limit_name != "window":
            return 0.0
        return max(_STAY_OVERRUN, 2 * self.slowest)

    def next_interval(self) -> float:
        pause = max(next_pause(self.state.interval, self.state), _SHORTEST_PAUSE)
        remaining = self.state.timeout - self.state.elapsed
        if pause >= remaining and self.state.limit_name == "window":
            pause = remaining  # a stay's last check reads the state at the window's end
        elif pause >= remaining:  # time the last check to end by the deadline
            pause = max(remaining - 2 * self.slowest, min(_SHORTEST_PAUSE, remaining))
        self.state.last_interval = pause
        return pause

    def pause(self, seconds: float) -> Plan[None]:
        """Pause ``seconds`` (no further than the deadline); a tripwire ends it at once."""
        seconds = min(seconds, self.state.timeout - self.state.elapsed)
        if seconds > 0:
            interruptible = self.sleep is None and self.clock is time.monotonic
            yield Pause(seconds, self.tripwires if interruptible else None, self.sleep)
        self._raise_if_tripped()

    def fail(
        self,
        reason: str,
        *,
        aborted: bool = False,
        cause: object = NOTHING,
        error_type: type[WaitTimeout] | None = None,
        **details: object,
    ) -> NoReturn:
        evidence = wait_evidence(self.state, reason, self._diagnostics())
        kind = error_type or (WaitAborted if aborted else WaitTimeout)
        error = kind(evidence.to_text(), self.state, **details)
        error.evidence = record_wait(evidence)
        chained = self.state.last_failure if cause is NOTHING else cause
        raise error from chained  # type: ignore[misc]

    def _evaluation(self) -> Evaluation[_Evaluation[T]]:
        """Probe, condition and fail_if: one check's work, yielding what they return to be
        awaited (:mod:`asyncbdd.drivers` runs it in a worker thread or on a loop)."""
        result: _Evaluation[T] = _Evaluation()
        try:
            value = yield from _resolved(self.probe())
        except Exception as error:
            if not self.ignored(error):
                raise
            result.failure, result.swallowed = error, True
            return result
        result.value = value
        try:
            verdict = yield from _resolved(self.condition(value))
            result.satisfied, result.returned_none = bool(verdict), verdict is None
        except AssertionError as error:
            result.satisfied, result.failure = False, error
        except Exception as error:
            if not self.ignored(error):
                raise
            result.failure, result.swallowed = error, True
            return result
        if self.fail_if is not None:
            try:
                result.verdict = yield from _resolved(self.fail_if(value))
            except Exception as error:
                result.verdict_error = error
        return result

    def _tripped(self) -> bool:
        return self.tripwires is not None and self.tripwires.trip is not None

    def _raise_if_tripped(self) -> None:
        trip = self.tripwires.trip if self.tripwires is not None else None
        if trip is not None:
            self.fail(
                trip.reason(self.started_monotonic),
                error_type=TripwireTripped,
                cause=None,
                trip=trip,
            )

    def _status(self) -> str:
        """The last value and the checks so far, for a progress line."""
        state = self.state
        checks = f"{state.attempts} {'check' if state.attempts == 1 else 'checks'}"
        if not state.has_value:
            return f"no value yet ({checks}, {len(state.swallowed)} exceptions ignored)"
        return f"last value {show(state.last_value)} ({checks})"

    def _diagnostics(self) -> tuple[str | Section, ...]:
        hint = None
        if self.state.verdicts and self.state.verdicts_none == self.state.verdicts:
            hint = (
                "the condition returned None at every check, which is false: a function "
                "that asserts belongs in wait_until_asserted(probe, assertion)"
            )
        explained: str | Section | None = None
        if self.on_timeout is not None:
            try:
                explained = self.on_timeout(self.state)
            except Exception as error:  # a broken hook must not hide the real failure
                explained = f"(the diagnostics hook failed: {type(error).__name__}: {error})"
        return tuple(part for part in (explained, hint) if part)


class _Asserting(Generic[T]):
    """A condition that holds when ``assertion(value)`` does not raise AssertionError."""

    def __init__(self, assertion: Callable[[T], object]) -> None:
        self.assertion = assertion

    def __call__(self, value: T) -> object:
        outcome = self.assertion(value)
        if inspect.isawaitable(outcome):
            return _passes(outcome)
        return True


async def _passes(outcome: Any) -> bool:
    await outcome
    return True


def _window(during: Seconds | None, duration: Seconds | None) -> Seconds:
    """A stay's window from ``during``, or from the deprecated ``duration`` (warned)."""
    if duration is None:
        return 1.0 if during is None else during
    if during is not None:
        raise InvalidInput("Give a stay's window once, as during=; duration is its old name.")
    warn_deprecated(
        "passing a stay's window to wait_stays positionally (duration)",
        "wait_stays(probe, condition, during=...)",
    )
    return duration


def _resolved(outcome: Any) -> Evaluation[Any]:
    """``outcome``, awaited by the driver first if it is awaitable."""
    if inspect.isawaitable(outcome):
        return (yield outcome)
    return outcome


def _is_async(function: Callable[..., object]) -> bool:
    """Whether calling ``function`` returns an awaitable for certain (``async def``, also
    behind ``functools.partial`` or as an ``async def __call__``)."""
    while isinstance(function, functools.partial):
        function = function.func
    call = None if inspect.isroutine(function) else type(function).__dict__.get("__call__")
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(call)


def _always(_value: object) -> bool:
    return True


def _as_predicate(ignore: Ignore) -> Callable[[BaseException], bool]:
    if isinstance(ignore, tuple):
        return lambda error: isinstance(error, ignore)
    if callable(ignore) and not isinstance(ignore, type):
        return ignore
    raise InvalidInput(
        f"ignore is a tuple of exception types or a predicate on the exception; got {ignore!r}."
    )


def _either(ignore: Ignore, types: tuple[type[BaseException], ...]) -> Ignore:
    if isinstance(ignore, tuple):
        return (*types, *ignore)
    predicate = _as_predicate(ignore)
    return lambda error: isinstance(error, types) or predicate(error)


_SHORTEST_PAUSE = 0.001  # a strategy returning 0 must not turn the wait into a busy loop
_STAY_OVERRUN = 0.25
"""A stay's last check starts at the window's end and may answer this long after it (or
twice the slowest check so far): it reads the state at the end, it need not end there."""
_RESOLUTION = 1e-6  # less time than this left is none: a clock may not move by so little
