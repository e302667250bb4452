"""What a report shows, as plain data: a run's features, scenarios, steps and waits.

The behave formatter (:mod:`asyncbdd.report.formatter`) fills it in as the run goes and
the HTML rendering (:mod:`asyncbdd.report.html`) reads it; neither knows the other, and
nothing here imports behave. Texts are kept as they were written or reported: escaping
is the rendering's job.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from asyncbdd.evidence import Picture

__all__ = [
    "FeatureReport",
    "Outcome",
    "RunReport",
    "ScenarioReport",
    "StepReport",
    "WaitTiming",
    "outcome_of",
]

Outcome = Literal["passed", "failed", "skipped"]
"""How a report counts a status: anything that neither passed nor was skipped failed."""


def outcome_of(status: str) -> Outcome:
    """The outcome a behave status counts as.

    Only ``passed`` passes; ``skipped`` and ``untested`` (never run, as after an abort)
    are skipped; every other status (``failed``, ``error``, ``hook_error``,
    ``undefined``, ``pending``, and any status a later behave adds) counts as failed,
    so that nothing unknown reads as a pass.
    """
    if status == "passed":
        return "passed"
    if status in {"skipped", "untested"}:
        return "skipped"
    return "failed"


@dataclass(frozen=True)
class WaitTiming:
    """One finished wait: what it awaited, and how much of its deadline it used."""

    awaited: str
    pattern: str
    passed: bool
    elapsed: float
    """Seconds the wait took."""
    timeout: float | None
    """Its deadline in seconds; ``None`` for a wait without one."""

    @property
    def share(self) -> float | None:
        """``elapsed / timeout`` (1.0: the whole deadline), or ``None`` without a deadline."""
        if self.timeout is None or self.timeout <= 0:
            return None
        return self.elapsed / self.timeout


@dataclass(frozen=True)
class StepReport:
    """One step as it ran: its text, status and duration, and what it failed with."""

    keyword: str
    name: str
    status: str
    duration: float
    table: tuple[tuple[str, ...], ...] = ()
    """The step's table, heading row first; empty when it has none."""
    text: str | None = None
    """The step's doc string, if any."""
    failure: str | None = None
    """The failure text of a step that did not pass, as the console shows it."""
    pictures: tuple[Picture, ...] = ()
    """The pictures of the failure's evidence."""
    waits: tuple[WaitTiming, ...] = ()
    """The waits that finished during the step, in the order they finished."""


@dataclass(frozen=True)
class ScenarioReport:
    """One scenario: its steps (the background's first) and how it ended."""

    keyword: str
    name: str
    location: str
    status: str
    duration: float
    steps: tuple[StepReport, ...] = ()
    tags: tuple[str, ...] = ()
    error: str | None = None
    """A failure outside the steps (a hook's error), if any."""

    @property
    def outcome(self) -> Outcome:
        """Passed, failed or skipped (see :func:`outcome_of`)."""
        return outcome_of(self.status)


@dataclass(frozen=True)
class FeatureReport:
    """One feature file's feature and its scenarios, in the order they ran."""

    name: str
    location: str
    description: tuple[str, ...] = ()
    scenarios: tuple[ScenarioReport, ...] = ()
    error: str | None = None
    """A failure outside the scenarios (a feature hook's error), if any."""


@dataclass(frozen=True)
class RunReport:
    """A whole behave run: when it started, how long it took, and its features."""

    started: datetime
    seconds: float
    features: tuple[FeatureReport, ...] = ()
    title: str = "asyncbdd report"
    counts: dict[Outcome, int] = field(init=False, compare=False)
    """Scenarios by outcome: ``{"passed": 20, "failed": 1, "skipped": 0}``."""

    def __post_init__(self) -> None:
        counted = Counter(
            scenario.outcome for feature in self.features for scenario in feature.scenarios
        )
        counts: dict[Outcome, int] = {
            "passed": counted["passed"],
            "failed": counted["failed"],
            "skipped": counted["skipped"],
        }
        object.__setattr__(self, "counts", counts)
