"""The record of a wait: every value seen and when, every check, every exception swallowed.

:class:`WaitState` is what interval strategies compute from and what a failure carries
(``WaitTimeout.state``); :func:`render_failure` turns it into the message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from asyncbdd.durations import format_duration
from asyncbdd.matching import shorten, show_value

if TYPE_CHECKING:
    from asyncbdd.intervals import IntervalStrategy

__all__ = [
    "NOTHING",
    "Check",
    "Observation",
    "Swallowed",
    "WaitState",
    "render_failure",
    "short",
    "show",
]

T = TypeVar("T")
Clock = Callable[[], float]


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


NOTHING: Any = object()
"""What ``last_value`` holds before the probe first returned."""


@dataclass(frozen=True)
class Check(Generic[T]):
    """One check of a wait, as ``on_check`` listeners see it; times are seconds since the
    wait began."""

    attempt: int
    started: float
    finished: float
    value: T | None
    """What the probe returned (``None`` if it raised)."""
    satisfied: bool | None
    """The condition's verdict; ``None`` when there was none (an ignored exception)."""
    error: BaseException | None = None
    """The exception ignored, or the condition's ``AssertionError``."""


@dataclass
class WaitState(Generic[T]):
    """Everything known about a wait so far; interval strategies compute from it."""

    description: str
    timeout: float
    interval: IntervalStrategy
    clock: Clock
    started: float = 0.0
    attempts: int = 0
    last_value: T = NOTHING
    history: list[Observation[T]] = field(default_factory=list)
    swallowed: list[Swallowed] = field(default_factory=list)
    last_failure: BaseException | None = None
    last_interval: float = 0.0
    scale: float = 1.0
    limit_name: str = "deadline"
    """What ``timeout`` is to this wait: a "deadline", or the "window" a condition held for."""
    verdicts_none: int = 0
    """Checks whose condition returned ``None`` (an assertion function given as a condition?)."""
    verdicts: int = 0
    """Checks whose condition gave a verdict."""

    @property
    def elapsed(self) -> float:
        """Seconds since the wait began."""
        return self.clock() - self.started

    @property
    def has_value(self) -> bool:
        """Whether the probe returned at least once."""
        return self.last_value is not NOTHING

    def observe(self, value: T, at: float) -> None:
        """Record a value returned by the probe at ``at`` seconds."""
        self.last_value = value
        if self.history and _same(self.history[-1].value, value):
            self.history[-1].last_seen = at
            self.history[-1].count += 1
        else:
            self.history.append(Observation(value, at, at))

    def __repr__(self) -> str:
        last = show(self.last_value) if self.has_value else "none"
        return (
            f"<WaitState {self.description!r}: attempt {self.attempts}, "
            f"{format_duration(self.elapsed)} of {format_duration(self.timeout)}, "
            f"last value {last}, {len(self.swallowed)} exceptions swallowed>"
        )


def render_failure(state: WaitState[Any], reason: str, diagnostics: str | None) -> str:
    """The message of a failed wait: what, why, the deadline, the checks, the values seen."""
    scale = f" (x{state.scale:g} timeout scale)" if state.scale != 1 else ""
    lines = [
        f"Waited for: {state.description}",
        f"Failed because {reason}.",
        f"  {state.limit_name + ':':<12} {format_duration(state.timeout)}{scale}, "
        f"elapsed {format_duration(state.elapsed)}",
        f"  attempts:    {state.attempts}, interval {state.interval}"
        + (f" (last {format_duration(state.last_interval)})" if state.attempts > 1 else ""),
        f"  last value:  {show(state.last_value) if state.has_value else _NO_VALUE}",
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
                f"{show(run.value)}  ({times})"
            )
    if state.swallowed:
        lines.append(f"  exceptions swallowed: {len(state.swallowed)}")
        for kind, errors in _group_by_type(state.swallowed).items():
            last = errors[-1]
            lines.append(
                f"    {len(errors)} x {kind}, last at {_ms(last.at)}: {short(str(last.error))}"
            )
    if isinstance(state.last_failure, AssertionError) and str(state.last_failure):
        assertion = str(state.last_failure).splitlines()
        if len(assertion) == 1:
            lines.append(f"  last assertion: {short(assertion[0])}")
        else:
            lines.append("  last assertion:")
            lines.extend(f"    {line}" for line in assertion[:_MAX_ASSERTION_LINES])
            if len(assertion) > _MAX_ASSERTION_LINES:
                lines.append(f"    ... {len(assertion) - _MAX_ASSERTION_LINES} more lines")
    if diagnostics:
        lines.append("  diagnostics:")
        lines.extend(f"    {line}" for line in diagnostics.splitlines())
    return "\n".join(lines)


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


def show(value: object) -> str:
    """A value as a failure shows it, shortened."""
    return show_value(value, _MAX_VALUE_LENGTH)


def short(text: str) -> str:
    """Text on one line, shortened."""
    return shorten(" ".join(text.split()), _MAX_VALUE_LENGTH)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.2f} s"


_NO_VALUE = "(none: the probe never returned)"
_MAX_HISTORY_LINES = 12
_MAX_ASSERTION_LINES = 30
_MAX_VALUE_LENGTH = 200
