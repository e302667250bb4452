"""Where evidence goes: into the failure it explains, the scenario that ran the wait,
and the listeners that want to hear of every finished wait."""

from __future__ import annotations

from collections.abc import Callable

from asyncbdd.errors import AsyncBddError, ExpectationFailed
from asyncbdd.evidence.model import Evidence, Section
from asyncbdd.scenario import Scenario, current_scenario

__all__ = [
    "checked_failure",
    "evidence_of",
    "on_wait_recorded",
    "record_wait",
    "recorded_waits",
]


def evidence_of(error: BaseException) -> Evidence | None:
    """The evidence a failure carries (the error raised by a wait/expectation), if any."""
    evidence = getattr(error, "evidence", None)
    return evidence if isinstance(evidence, Evidence) else None


def checked_failure(
    checked: str, reason: str, *sections: Section, pattern: str
) -> ExpectationFailed:
    """The failure of a check of something already there (the last message, a call):
    ``Checked: <checked>`` / ``Failed because <reason>:``, then ``sections``; it carries
    its evidence."""
    evidence = Evidence(
        awaited=checked,
        pattern=pattern,
        passed=False,
        timeout=None,
        elapsed=0.0,
        reason=reason,
        headline="check",
        sections=sections,
    )
    error = ExpectationFailed(evidence.to_text())
    error.evidence = evidence
    return error


def recorded_waits(scenario: Scenario | None = None) -> list[Evidence]:
    """Every wait finished in ``scenario`` (default: the running one, none outside one),
    passed and failed, in the order they finished."""
    if scenario is None:
        scenario = _running()
        if scenario is None:
            return []
    return list(scenario.waits)


def on_wait_recorded(listener: Callable[[Evidence], object]) -> Callable[[], None]:
    """Call ``listener`` each time a wait finishes (pass or fail), in the thread that ran
    it; return a function that removes the listener."""
    _listeners.append(listener)

    def remove() -> None:
        if listener in _listeners:
            _listeners.remove(listener)

    return remove


def record_wait(evidence: Evidence) -> Evidence:
    """Keep ``evidence`` with the running scenario and tell the listeners; return it."""
    scenario = _running()
    if scenario is not None:
        scenario.waits.append(evidence)
    for listener in list(_listeners):
        listener(evidence)
    return evidence


def _running() -> Scenario | None:
    try:
        return current_scenario()
    except AsyncBddError:  # a wait outside a scenario is kept by no one
        return None


_listeners: list[Callable[[Evidence], object]] = []
