"""Time budgets: a scenario may not wait longer, in total, than it has.

:func:`reserve_deadline` turns a wait's timeout into its deadline (the timeout scale
applied) and takes it from the active budget; every wait of every pattern calls it, so
they all obey the same settings and the same budget.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta

from asyncbdd.config import get_settings
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import BudgetExceeded, InvalidInput

__all__ = ["TimeBudget", "reserve_deadline", "time_budget"]

Seconds = float | timedelta | str
Clock = Callable[[], float]


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
    timeout: Seconds | None, what: str, *, scaled: bool = True, then: Seconds = 0.0
) -> tuple[float, float]:
    """The deadline of a wait in seconds, and the timeout scale applied to it.

    ``timeout`` ``None`` means the ``asyncbdd.timeout`` setting. The deadline, plus
    ``then`` (a grace window watched after it is met), is reserved from the active time
    budget: :class:`~asyncbdd.errors.BudgetExceeded` names ``what`` when it does not fit.
    Waits that are not built on :func:`~asyncbdd.wait.wait_until` (queue drains, webhook
    captures) call this so they obey the same settings and budget.
    """
    settings = get_settings()
    seconds = settings.timeout if timeout is None else to_seconds(timeout)
    scale = settings.timeout_scale if scaled else 1.0
    deadline = seconds * scale
    if not deadline < math.inf:
        raise InvalidInput(
            f"{what}: a deadline of {seconds:g} s at a timeout scale of {scale:g} is "
            "unbounded. Give a finite timeout."
        )
    budget = _active_budget.get()
    if budget is not None:
        budget.reserve(deadline + to_seconds(then), what)
    return deadline, scale
