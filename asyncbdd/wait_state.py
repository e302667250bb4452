"""The record of a wait: every value seen and when, every check, every exception swallowed.

:class:`WaitState` is what interval strategies compute from and what a failure carries
(``WaitTimeout.state``); :func:`wait_evidence` turns it into the wait's
:class:`~asyncbdd.evidence.Evidence`, whose text is the failure's message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from asyncbdd.durations import format_duration
from asyncbdd.evidence.model import (
    Diagnostics,
    Evidence,
    Polling,
    Section,
    SnapshotChange,
    SwallowedKind,
    TraceTimeline,
    ValueRun,
)
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
    "wait_evidence",
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
    return wait_evidence(state, reason, (diagnostics,) if diagnostics else ()).to_text()


def wait_evidence(
    state: WaitState[Any],
    reason: str | None,
    diagnostics: Sequence[str | Section] = (),
    *,
    finished: float | None = None,
) -> Evidence:
    """The evidence of a wait of the poll engine as it stands: failed with ``reason``
    (passed when ``None``), explained by ``diagnostics`` (text and sections).

    ``finished`` is when it ended on the wait's clock (default: now).
    """
    elapsed = (state.clock() if finished is None else finished) - state.started
    groups = _group_by_type(state.swallowed)
    polling = Polling(
        attempts=state.attempts,
        interval=str(state.interval),
        last_interval=state.last_interval,
        last_value=show(state.last_value) if state.has_value else None,
        history=tuple(
            ValueRun(show(run.value), run.first_seen, run.last_seen, run.count)
            for run in state.history
        ),
        swallowed=tuple(
            SwallowedKind(kind, len(errors), errors[-1].at, short(str(errors[-1].error)))
            for kind, errors in groups.items()
        ),
        swallowed_count=len(state.swallowed),
        last_assertion=str(state.last_failure)
        if isinstance(state.last_failure, AssertionError) and str(state.last_failure)
        else None,
    )
    sections: list[Section] = [polling]
    if diagnostics:
        sections.append(Diagnostics(tuple(diagnostics)))
    stays = state.limit_name == "window"
    return Evidence(
        awaited=state.description,
        pattern=_pattern(diagnostics) or ("stays" if stays else "poll"),
        passed=reason is None,
        timeout=state.timeout,
        elapsed=elapsed,
        reason=reason,
        limit_name=state.limit_name,
        scale=state.scale,
        sections=tuple(sections),
    )


def _pattern(diagnostics: Sequence[str | Section]) -> str | None:
    """What a poll was for, when its diagnostics say: a trace, a snapshot."""
    for part in diagnostics:
        if isinstance(part, TraceTimeline):
            return "trace"
        if isinstance(part, SnapshotChange):
            return "snapshot"
    return None


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


_MAX_VALUE_LENGTH = 200
