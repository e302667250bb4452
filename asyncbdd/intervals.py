"""Interval strategies: how long the poll engine pauses between two checks.

Small stateless objects with one ``__call__(state)``, computed from the wait's
:class:`~asyncbdd.wait.WaitState` (attempts made, time waited), combined with ``+``; a
plain function of the state is a strategy too::

    wait_until(probe, interval=Exponential(initial=0.01, maximum=0.5))
    wait_until(probe, interval=Fixed(0.1) + Proportional(fraction=0.02))

A pause must be a finite number of seconds, 0 or more: a strategy that returns anything
else stops the wait with an :class:`~asyncbdd.errors.InvalidInput` naming it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol, cast

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import InvalidInput

if TYPE_CHECKING:
    from asyncbdd.wait_state import WaitState

__all__ = [
    "Exponential",
    "Fibonacci",
    "Fixed",
    "IntervalStrategy",
    "Proportional",
    "as_strategy",
    "default_interval",
    "next_pause",
]


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
    """The same pause every time: the hand-written loop's strategy.

    ``seconds`` may be given as a number of seconds, a ``timedelta`` or text (``"100 ms"``).
    """

    seconds: float

    def __post_init__(self) -> None:
        _convert(self, "seconds")

    def __call__(self, state: WaitState[Any], /) -> float:
        return self.seconds

    def __str__(self) -> str:
        return f"fixed {format_duration(self.seconds)}"


@dataclass(frozen=True)
class Exponential(_Strategy):
    """``initial * multiplier ** (attempt - 1)``, capped at ``maximum``.

    Durations may be given as numbers of seconds, ``timedelta`` objects or text.
    """

    initial: float = 0.01
    multiplier: float = 2.0
    maximum: float = math.inf

    def __post_init__(self) -> None:
        _convert(self, "initial", "maximum")

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
    """``initial`` times the Fibonacci numbers (1, 1, 2, 3, 5...), capped at ``maximum``.

    Durations may be given as numbers of seconds, ``timedelta`` objects or text.
    """

    initial: float = 0.01
    maximum: float = math.inf

    def __post_init__(self) -> None:
        _convert(self, "initial", "maximum")

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

    Bounded by ``minimum`` and ``maximum`` (seconds, ``timedelta`` objects or text). With a
    fraction of 4 %, a condition is seen at most 4 % (on average 2 %) after it became
    true, however long it took.
    """

    fraction: float = 0.04
    minimum: float = 0.005
    maximum: float = 1.0

    def __post_init__(self) -> None:
        _convert(self, "minimum", "maximum")

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


def _convert(strategy: _Strategy, *names: str) -> None:
    """Store the durations ``names`` of a frozen strategy as seconds; an unbounded maximum
    (``math.inf``) stays unbounded."""
    for name in names:
        value = getattr(strategy, name)
        if not (isinstance(value, float) and value == math.inf):
            object.__setattr__(strategy, name, to_seconds(value))


def default_interval() -> IntervalStrategy:
    """The strategy used when none is given: proportional, capped at ``max_interval``."""
    return Proportional(maximum=get_settings().max_interval)


def as_strategy(interval: IntervalStrategy | float | timedelta | str | None) -> IntervalStrategy:
    """``interval`` as a strategy: ``None`` is the default, seconds are :class:`Fixed`."""
    if interval is None:
        return default_interval()
    if isinstance(interval, (int, float, timedelta, str)):
        return Fixed(to_seconds(interval))
    if not callable(interval):
        raise InvalidInput(
            f"An interval is seconds, a duration such as '100 ms', or a strategy such as "
            f"Exponential(); got {interval!r}."
        )
    return interval


def next_pause(strategy: IntervalStrategy, state: WaitState[Any]) -> float:
    """The strategy's next pause, checked: a finite number of seconds, 0 or more."""
    pause = strategy(state)
    if (
        isinstance(pause, bool)
        or not isinstance(pause, (int, float))
        or not (0 <= pause < math.inf)
    ):
        raise InvalidInput(
            f"The interval strategy {strategy} returned {pause!r} as the pause before "
            f"check {state.attempts + 1}; a pause is a finite number of seconds, 0 or more."
        )
    return float(pause)
