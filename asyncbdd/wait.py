"""The poll engine: wait until a condition holds, and explain it when it does not.

Three questions cover what a test asks of something that happens eventually:

* :func:`wait_until` -- does it hold *within* a deadline? Optional ``at_least`` (it must
  not hold too early), ``hold`` (once it holds it must keep holding for a window),
  ``fail_if`` (stop at once on a terminal wrong state) and ``ignore`` (exceptions that
  mean "not yet").
* :func:`wait_stays` -- does it hold *now and throughout* a window?
* :func:`wait_until_asserted` -- does an assertion pass within a deadline?

Semantics, with examples (``t`` is time since the wait began)::

    wait_until(status, eq("paid"), timeout=5)           # passes at the first t <= 5 s
                                                         # where status() == "paid"
    wait_until(status, eq("paid"), timeout=5, at_least=1)
        # fails at once if status() == "paid" at some t < 1 s: it happened too early
    wait_until(status, eq("paid"), timeout=5, hold=2)
        # the condition must become true and then stay true for 2 s, all within 5 s:
        # true at t=1..3 passes at t=3; true at t=1..2, false at 2.5, true 3..5 times out
    wait_stays(status, eq("pending"), 2)
        # true at t=0 and at every check until t=2 passes at t=2; false at t=0 fails
        # at once; false at t=1.2 fails at t=1.2

A probe is checked once immediately, then at intervals from an
:data:`IntervalStrategy` (by default they grow with the time already waited, so a quick
condition is seen within milliseconds and a slow one costs few probe calls). Deadlines
use the monotonic clock and are multiplied by ``timeout_scale`` (setting
``asyncbdd.timeout_scale`` / ``ASYNCBDD_TIMEOUT_SCALE``). A final check runs at the
deadline itself.

Every failure is an :class:`~asyncbdd.errors.WaitTimeout` (an ``AssertionError``: a test
failure, not an error) whose message states what was awaited, the deadline and elapsed
time, attempts and interval, the last value, the values seen over time, the exceptions
swallowed, and the diagnostics of ``on_timeout``. The last swallowed exception or
assertion is chained as its ``__cause__``.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, Protocol, TypeVar, cast

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import BudgetExceeded, InvalidInput, WaitAborted, WaitTimeout
from asyncbdd.matching import shorten, show_value

__all__ = [
    "Exponential",
    "Fibonacci",
    "Fixed",
    "IntervalStrategy",
    "Observation",
    "Proportional",
    "Seconds",
    "Swallowed",
    "TimeBudget",
    "WaitState",
    "default_interval",
    "reserve_deadline",
    "time_budget",
    "wait_stays",
    "wait_until",
    "wait_until_asserted",
]

T = TypeVar("T")
Seconds = float | timedelta | str
Clock = Callable[[], float]
Sleep = Callable[[float], None]


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
    ignore: tuple[type[BaseException], ...] = (),
    fail_if: Callable[[T], object] | None = None,
    description: str | None = None,
    on_timeout: Callable[[WaitState[T]], str | None] | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> T:
    """Call ``probe`` until ``condition(value)`` is truthy; return that value.

    ``condition`` may also be an assertion: raising ``AssertionError`` means "not yet",
    and the last such error is reported and chained if the wait times out.

    :param timeout: the deadline ("at most"); default: setting ``asyncbdd.timeout``.
    :param at_least: fail if the condition holds before this much time has passed.
    :param hold: once true, the condition must stay true this long (within ``timeout``).
    :param poll_delay: wait this long before the first check.
    :param interval: pause strategy between checks, or fixed seconds.
    :param ignore: exception types from ``probe`` that mean "not yet"; they are recorded.
    :param fail_if: a terminal state: when ``fail_if(value)`` is truthy, fail at once; text
        it returns is the reason the failure gives.
    :param description: what is awaited, in the caller's words (the step text).
    :param on_timeout: called once on failure; its text is appended to the message.
    :raises WaitTimeout: the deadline passed (``WaitAborted`` if stopped early).
    :raises BudgetExceeded: the deadline exceeds what is left of an active time budget.
    """
    wait = _Wait(
        probe,
        condition,
        description=description,
        timeout=timeout,
        interval=interval,
        ignore=ignore,
        on_timeout=on_timeout,
        clock=clock,
    )
    minimum, window = to_seconds(at_least), to_seconds(hold)
    for what, seconds in (("hold window", window), ("minimum time", minimum)):
        if seconds > wait.state.timeout:
            raise InvalidInput(
                f"The {what} ({format_duration(seconds)}) is longer than the deadline "
                f"({format_duration(wait.state.timeout)}, timeout scale included); it could "
                "never pass. Give a longer timeout, or a shorter window."
            )
    wait.pause(to_seconds(poll_delay), sleep)
    held_since: float | None = None
    while True:
        satisfied, value = wait.check()
        if satisfied is not None and fail_if is not None:
            wait.abort_if(fail_if, value)  # type: ignore[arg-type]
        if satisfied:
            now = wait.checked_at
            if now < minimum:
                wait.fail(
                    f"it held after {format_duration(now)}, earlier than the minimum of "
                    f"{format_duration(minimum)}",
                    aborted=True,
                )
            held_since = now if held_since is None else held_since
            if now - held_since >= window:
                return value  # type: ignore[return-value]
        else:
            held_since = None
        if wait.deadline_passed():
            break
        wait.pause(wait.next_interval(), sleep)
    if held_since is not None:
        wait.fail(
            f"it held for only {format_duration(wait.state.elapsed - held_since)} of the "
            f"required {format_duration(window)}"
        )
    wait.fail("the deadline passed")
    raise AssertionError("unreachable")  # pragma: no cover


def wait_stays(
    probe: Callable[[], T],
    condition: Callable[[T], object] = bool,
    duration: Seconds = 1.0,
    *,
    interval: IntervalStrategy | Seconds | None = None,
    ignore: tuple[type[BaseException], ...] = (),
    fail_if: Callable[[T], object] | None = None,
    description: str | None = None,
    on_timeout: Callable[[WaitState[T]], str | None] | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
) -> T:
    """Check that ``condition`` holds now and at every check for ``duration``.

    The window is not scaled by ``timeout_scale``: it is part of what is asserted. Fails
    at the first check where the condition does not hold, or where ``fail_if(value)`` is
    truthy (text it returns is the reason given, as for :func:`wait_until`); returns the
    last value.
    """
    window = to_seconds(duration)
    wait = _Wait(
        probe,
        condition,
        description=description,
        timeout=window,
        interval=interval,
        ignore=ignore,
        on_timeout=on_timeout,
        clock=clock,
        scaled=False,
    )
    wait.state.limit_name = "window"
    while True:
        satisfied, value = wait.check()
        if satisfied is not None and fail_if is not None:
            wait.abort_if(fail_if, value)  # type: ignore[arg-type]
        if not satisfied:
            wait.fail(
                f"it stopped holding after {format_duration(wait.state.elapsed)} of the "
                f"required {format_duration(window)}",
                aborted=True,
            )
        if wait.deadline_passed():
            return value  # type: ignore[return-value]
        wait.pause(wait.next_interval(), sleep)


def wait_until_asserted(
    assertion: Callable[[], T],
    *,
    timeout: Seconds | None = None,
    description: str | None = None,
    **options: Any,
) -> T:
    """Call ``assertion`` until it stops raising ``AssertionError``; return its result."""
    result: T = wait_until(
        assertion,
        lambda _value: True,
        timeout=timeout,
        description=description or _name_of(assertion),
        ignore=(AssertionError, *options.pop("ignore", ())),
        **options,
    )
    return result


# --------------------------------------------------------------------------------------
# Interval strategies: small stateless objects, combined with +
# --------------------------------------------------------------------------------------


class IntervalStrategy(Protocol):
    """Pause, in seconds, before the next check, computed from the wait's state."""

    def __call__(self, state: WaitState[Any], /) -> float: ...


class _Strategy:
    """Shared arithmetic: ``a + b`` pauses for the sum of both; ``sum()`` works too."""

    def __call__(self, state: WaitState[Any], /) -> float:
        raise NotImplementedError

    def __add__(self, other: IntervalStrategy) -> _Sum:
        return _Sum(self, other)

    def __radd__(self, other: object) -> _Strategy:
        if other == 0:  # sum() starts from 0
            return self
        return _Sum(cast("IntervalStrategy", other), self) if callable(other) else NotImplemented


@dataclass(frozen=True)
class Fixed(_Strategy):
    """The same pause every time: the hand-written loop's strategy."""

    seconds: float

    def __call__(self, state: WaitState[Any], /) -> float:
        return self.seconds

    def __str__(self) -> str:
        return f"fixed {format_duration(self.seconds)}"


@dataclass(frozen=True)
class Exponential(_Strategy):
    """``initial * multiplier ** (attempt - 1)``, capped at ``maximum``."""

    initial: float = 0.01
    multiplier: float = 2.0
    maximum: float = math.inf

    def __call__(self, state: WaitState[Any], /) -> float:
        exponent = max(state.attempts - 1, 0)
        try:
            return min(self.initial * self.multiplier**exponent, self.maximum)
        except OverflowError:
            return self.maximum

    def __str__(self) -> str:
        return (
            f"exponential from {format_duration(self.initial)} x{self.multiplier:g} "
            f"up to {format_duration(self.maximum)}"
        )


@dataclass(frozen=True)
class Fibonacci(_Strategy):
    """``initial`` times the Fibonacci numbers (1, 1, 2, 3, 5...), capped at ``maximum``."""

    initial: float = 0.01
    maximum: float = math.inf

    def __call__(self, state: WaitState[Any], /) -> float:
        previous, current = 0, 1
        for _ in range(max(state.attempts - 1, 0)):
            previous, current = current, previous + current
            if current * self.initial >= self.maximum:
                return self.maximum
        return min(current * self.initial, self.maximum)

    def __str__(self) -> str:
        return (
            f"fibonacci from {format_duration(self.initial)} up to {format_duration(self.maximum)}"
        )


@dataclass(frozen=True)
class Proportional(_Strategy):
    """A pause that grows with the time already waited: ``fraction * elapsed``.

    Bounded by ``minimum`` and ``maximum``. With a fraction of 4 %, a condition is seen
    at most 4 % (on average 2 %) after it became true, however long it took.
    """

    fraction: float = 0.04
    minimum: float = 0.005
    maximum: float = 1.0

    def __call__(self, state: WaitState[Any], /) -> float:
        return min(max(self.fraction * state.elapsed, self.minimum), self.maximum)

    def __str__(self) -> str:
        return (
            f"{self.fraction:.0%} of the time waited, between {format_duration(self.minimum)}"
            f" and {format_duration(self.maximum)}"
        )


@dataclass(frozen=True)
class _Sum(_Strategy):
    first: IntervalStrategy
    second: IntervalStrategy

    def __call__(self, state: WaitState[Any], /) -> float:
        return self.first(state) + self.second(state)

    def __str__(self) -> str:
        return f"{self.first} + {self.second}"


def default_interval() -> IntervalStrategy:
    """The strategy used when none is given: proportional, capped at ``max_interval``."""
    return Proportional(maximum=get_settings().max_interval)


# --------------------------------------------------------------------------------------
# Time budgets: a scenario may not wait longer than it has
# --------------------------------------------------------------------------------------


@dataclass
class TimeBudget:
    """A total time allowance; waits longer than what remains of it are rejected."""

    seconds: float
    label: str = "time budget"
    clock: Clock = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def remaining(self) -> float:
        """Seconds left of the allowance."""
        return max(self.seconds - (self.clock() - self.started), 0.0)

    def reserve(self, seconds: float, what: str) -> None:
        """Raise :class:`BudgetExceeded` if ``seconds`` is more than what remains."""
        if seconds > self.remaining:
            raise BudgetExceeded(
                f"{what} may take up to {format_duration(seconds)}, but only "
                f"{format_duration(self.remaining)} of the {self.label} "
                f"({format_duration(self.seconds)}) remain. Shorten the wait, or raise the "
                "budget (setting asyncbdd.scenario_budget)."
            )


@contextlib.contextmanager
def time_budget(seconds: Seconds, label: str = "time budget") -> Iterator[TimeBudget]:
    """Make every wait inside the ``with`` block fit into ``seconds`` in total."""
    token = _active_budget.set(TimeBudget(to_seconds(seconds), label))
    try:
        yield _active_budget.get()  # type: ignore[misc]
    finally:
        _active_budget.reset(token)


_active_budget: ContextVar[TimeBudget | None] = ContextVar("asyncbdd_budget", default=None)


def reserve_deadline(
    timeout: Seconds | None, what: str, *, scaled: bool = True
) -> tuple[float, float]:
    """The deadline of a wait in seconds, and the timeout scale applied to it.

    ``timeout`` ``None`` means the ``asyncbdd.timeout`` setting. The deadline is reserved
    from the active time budget: :class:`~asyncbdd.errors.BudgetExceeded` names ``what``
    when it does not fit. Waits that are not built on :func:`wait_until` (queue drains,
    webhook captures) call this so they obey the same settings and budget.
    """
    settings = get_settings()
    seconds = settings.timeout if timeout is None else to_seconds(timeout)
    scale = settings.timeout_scale if scaled else 1.0
    budget = _active_budget.get()
    if budget is not None:
        budget.reserve(seconds * scale, what)
    return seconds * scale, scale


# --------------------------------------------------------------------------------------
# The record of a wait
# --------------------------------------------------------------------------------------


@dataclass
class Observation(Generic[T]):
    """A run of equal consecutive values: what was seen, from when, until when, how often."""

    value: T
    first_seen: float
    last_seen: float
    count: int = 1


@dataclass
class Swallowed:
    """An exception raised by the probe and ignored, with when it happened."""

    error: BaseException
    at: float


_NOTHING: Any = object()


@dataclass
class WaitState(Generic[T]):
    """Everything known about a wait so far; interval strategies compute from it."""

    description: str
    timeout: float
    interval: IntervalStrategy
    clock: Clock
    started: float = 0.0
    attempts: int = 0
    last_value: T = _NOTHING
    history: list[Observation[T]] = field(default_factory=list)
    swallowed: list[Swallowed] = field(default_factory=list)
    last_failure: BaseException | None = None
    last_interval: float = 0.0
    scale: float = 1.0
    limit_name: str = "deadline"
    """What ``timeout`` is to this wait: a "deadline", or the "window" a condition held for."""

    @property
    def elapsed(self) -> float:
        """Seconds since the wait began."""
        return self.clock() - self.started

    @property
    def has_value(self) -> bool:
        """Whether the probe returned at least once."""
        return self.last_value is not _NOTHING

    def observe(self, value: T, at: float) -> None:
        """Record a value returned by the probe at ``at`` seconds."""
        self.last_value = value
        if self.history and _same(self.history[-1].value, value):
            self.history[-1].last_seen = at
            self.history[-1].count += 1
        else:
            self.history.append(Observation(value, at, at))

    def __repr__(self) -> str:
        last = _show(self.last_value) if self.has_value else "none"
        return (
            f"<WaitState {self.description!r}: attempt {self.attempts}, "
            f"{format_duration(self.elapsed)} of {format_duration(self.timeout)}, "
            f"last value {last}, {len(self.swallowed)} exceptions swallowed>"
        )


# --------------------------------------------------------------------------------------
# Private: the loop's moving parts and the failure message
# --------------------------------------------------------------------------------------


class _Wait(Generic[T]):
    def __init__(
        self,
        probe: Callable[[], T],
        condition: Callable[[T], object],
        *,
        description: str | None,
        timeout: Seconds | None,
        interval: IntervalStrategy | Seconds | None,
        ignore: tuple[type[BaseException], ...],
        on_timeout: Callable[[WaitState[T]], str | None] | None,
        clock: Clock,
        scaled: bool = True,
    ) -> None:
        description = description or _name_of(probe)
        seconds, scale = reserve_deadline(timeout, f"Waiting for {description}", scaled=scaled)
        self.probe, self.condition, self.ignore, self.on_timeout = (
            probe,
            condition,
            ignore,
            on_timeout,
        )
        self.state: WaitState[T] = WaitState(
            description=description,
            timeout=seconds,
            interval=_as_strategy(interval),
            clock=clock,
            scale=scale,
        )
        self.checked_at = 0.0
        self.state.started = clock()

    def check(self) -> tuple[bool | None, T | None]:
        """One attempt: (True/False, value), or (None, None) when the probe raised."""
        state = self.state
        state.attempts += 1
        self.checked_at = state.elapsed  # a slow probe's value may date from its start
        try:
            value = self.probe()
        except self.ignore as error:
            state.swallowed.append(Swallowed(error, state.elapsed))
            state.last_failure = error
            return None, None
        state.observe(value, state.elapsed)
        try:
            satisfied = bool(self.condition(value))
        except AssertionError as error:
            state.last_failure = error
            return False, value
        state.last_failure = None  # only the latest attempt's failure explains a timeout
        return satisfied, value

    def deadline_passed(self) -> bool:
        return self.state.elapsed >= self.state.timeout

    def next_interval(self) -> float:
        pause = max(self.state.interval(self.state), _SHORTEST_PAUSE)
        self.state.last_interval = pause
        return pause

    def pause(self, seconds: float, sleep: Sleep) -> None:
        remaining = self.state.timeout - self.state.elapsed
        if seconds > 0 and remaining > 0:
            sleep(min(seconds, remaining))

    def abort_if(self, fail_if: Callable[[T], object], value: T) -> None:
        """Fail at once if ``value`` is a terminal state; text from ``fail_if`` is the reason."""
        verdict = fail_if(value)
        if verdict:
            reason = (
                verdict
                if isinstance(verdict, str)
                else f"it reached a state it must never reach: {_show(value)}"
            )
            self.fail(reason, aborted=True)

    def fail(self, reason: str, aborted: bool = False) -> None:
        message = _render_failure(self.state, reason, self._diagnostics())
        error_type = WaitAborted if aborted else WaitTimeout
        raise error_type(message, self.state) from self.state.last_failure

    def _diagnostics(self) -> str | None:
        if self.on_timeout is None:
            return None
        try:
            return self.on_timeout(self.state)
        except Exception as error:  # a broken hook must not hide the real failure
            return f"(the diagnostics hook failed: {type(error).__name__}: {error})"


_NO_VALUE = "(none: the probe never returned)"
_SHORTEST_PAUSE = 0.001  # a strategy returning 0 must not turn the wait into a busy loop
_MAX_HISTORY_LINES = 12
_MAX_ASSERTION_LINES = 30
_MAX_VALUE_LENGTH = 200


def _render_failure(state: WaitState[Any], reason: str, diagnostics: str | None) -> str:
    scale = f" (x{state.scale:g} timeout scale)" if state.scale != 1 else ""
    lines = [
        f"Waited for: {state.description}",
        f"Failed because {reason}.",
        f"  {state.limit_name + ':':<12} {format_duration(state.timeout)}{scale}, "
        f"elapsed {format_duration(state.elapsed)}",
        f"  attempts:    {state.attempts}, interval {state.interval}"
        + (f" (last {format_duration(state.last_interval)})" if state.attempts > 1 else ""),
        f"  last value:  {_show(state.last_value) if state.has_value else _NO_VALUE}",
    ]
    if state.history:
        lines.append("  values seen:")
        runs = state.history
        if len(runs) > _MAX_HISTORY_LINES:
            half = _MAX_HISTORY_LINES // 2
            skipped = len(runs) - 2 * half
            runs = [*runs[:half], *runs[-half:]]
        for index, run in enumerate(runs):
            if len(state.history) > _MAX_HISTORY_LINES and index == _MAX_HISTORY_LINES // 2:
                lines.append(f"    ... {skipped} more ...")
            times = "1 check" if run.count == 1 else f"{run.count} checks"
            lines.append(
                f"    {_ms(run.first_seen):>9} - {_ms(run.last_seen):<9}  "
                f"{_show(run.value)}  ({times})"
            )
    if state.swallowed:
        lines.append(f"  exceptions swallowed: {len(state.swallowed)}")
        for kind, errors in _group_by_type(state.swallowed).items():
            last = errors[-1]
            lines.append(
                f"    {len(errors)} x {kind}, last at {_ms(last.at)}: {_short(str(last.error))}"
            )
    if isinstance(state.last_failure, AssertionError) and str(state.last_failure):
        assertion = str(state.last_failure).splitlines()
        if len(assertion) == 1:
            lines.append(f"  last assertion: {_short(assertion[0])}")
        else:
            lines.append("  last assertion:")
            lines.extend(f"    {line}" for line in assertion[:_MAX_ASSERTION_LINES])
            if len(assertion) > _MAX_ASSERTION_LINES:
                lines.append(f"    ... {len(assertion) - _MAX_ASSERTION_LINES} more lines")
    if diagnostics:
        lines.append("  diagnostics:")
        lines.extend(f"    {line}" for line in diagnostics.splitlines())
    return "\n".join(lines)


def _as_strategy(interval: IntervalStrategy | Seconds | None) -> IntervalStrategy:
    if interval is None:
        return default_interval()
    if isinstance(interval, (int, float, timedelta, str)):
        return Fixed(to_seconds(interval))
    return interval


def _same(left: object, right: object) -> bool:
    try:
        return bool(left == right) and type(left) is type(right)
    except Exception:  # values that refuse comparison are compared by their text
        return repr(left) == repr(right)


def _group_by_type(swallowed: list[Swallowed]) -> dict[str, list[Swallowed]]:
    groups: dict[str, list[Swallowed]] = {}
    for item in swallowed:
        groups.setdefault(type(item.error).__name__, []).append(item)
    return groups


def _show(value: object) -> str:
    return show_value(value, _MAX_VALUE_LENGTH)


def _short(text: str) -> str:
    return shorten(" ".join(text.split()), _MAX_VALUE_LENGTH)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.2f} s"


def _name_of(function: Callable[..., Any]) -> str:
    return getattr(function, "__name__", None) or repr(function)
