"""What a step asserts of a trace, and the verdict on a trace read at one moment.

Each expectation says when its evidence is *complete* -- every event it names is in the
trace -- and judges the trace only then: a wait never guesses completion from a trace
that stopped growing, and a complete trace that fails is final, so the wait ends at once
rather than at its deadline. Order is judged by index in the ordered trace
(:class:`~asyncbdd.traces.trace.Trace`), never by mere presence.

* :class:`InOrder` -- the events occur in this order; others may be interleaved, or,
  with ``exactly``, the trace is exactly this chain (no other, no repeated event).
* :class:`Before` -- the first ``first`` comes before the first ``second``.
* :class:`ExactlyOnce` -- the event occurs once; a second occurrence fails at once.
* :class:`WithinAfter` -- the first ``event`` follows the first ``after`` within a time.
* :class:`Absent` -- the event is not in the trace.

``exact`` expectations (``InOrder(exactly=True)``, ``ExactlyOnce``) also watch the
trace for a short grace window once they pass, for an extra event arriving late.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import ConfigurationError, InvalidInput, hide_failure_frames
from asyncbdd.traces.trace import Trace
from asyncbdd.wait import Seconds

__all__ = [
    "Absent",
    "Before",
    "ExactlyOnce",
    "InOrder",
    "TraceExpectation",
    "Verdict",
    "WithinAfter",
]

__tracebackhide__ = hide_failure_frames

DUPLICATE = "duplicate"
OUT_OF_ORDER = "out of order"
UNEXPECTED = "unexpected"


@dataclass(frozen=True)
class Verdict:
    """What an expectation makes of a trace read at one moment."""

    complete: bool
    """Every event the expectation names is in the trace."""
    failure: str | None = None
    """Why the trace fails, when that is final; completes "Failed because ...". """
    waiting_for: str | None = None
    """What is still missing, while the evidence is incomplete."""
    marks: Mapping[int, str] = field(default_factory=dict)
    """Remarks on events, by index in the trace: ``out of order``, ``duplicate``."""
    missing: frozenset[int] = frozenset()
    """Indexes of :meth:`TraceExpectation.expected` lines not found in the trace."""
    note: str | None = None
    """A sentence for the failure report: why it failed when it did."""

    @property
    def passed(self) -> bool:
        """The evidence is complete, and the trace meets the expectation."""
        return self.complete and self.failure is None


class TraceExpectation(ABC):
    """One assertion about a trace; :meth:`evaluate` judges a trace read at one moment."""

    exact: bool = False
    """Whether a passing trace is watched for a grace window for late extra events."""

    @abstractmethod
    def evaluate(self, trace: Trace) -> Verdict:
        """The verdict on ``trace`` as it stands."""

    @abstractmethod
    def expected(self) -> list[str]:
        """The expected events, one line each, shown beside the timeline of a failure."""

    @abstractmethod
    def __str__(self) -> str:
        """The expectation in a step's words, without the trace's name."""


class InOrder(TraceExpectation):
    """``events`` occur in this order; with ``exactly``, they are the whole trace.

    An event type may appear more than once in ``events``: its n-th mention is its n-th
    occurrence. Without ``exactly``, other events may come in between and before or after,
    and repeats of an expected event are shown but allowed.
    """

    def __init__(self, events: Sequence[str], *, exactly: bool = False) -> None:
        self.events = _names(events, "an in-order check")
        self.exactly = self.exact = exactly

    def evaluate(self, trace: Trace) -> Verdict:
        matched = _match_occurrences(self.events, trace)
        used = {position for position in matched if position is not None}
        expected_types = set(self.events)
        marks: dict[int, str] = {}
        for position, event in enumerate(trace.events):
            if position not in used and event.type in expected_types:
                marks[position] = DUPLICATE
            elif position not in used and self.exactly:
                marks[position] = UNEXPECTED
        missing = frozenset(index for index, position in enumerate(matched) if position is None)
        present = [event for index, event in enumerate(self.events) if index not in missing]
        in_order = (
            trace.types == self.events
            if self.exactly and not missing
            else _is_subsequence(present, trace)
        )
        disorder = {} if in_order else _disorder(matched, trace)
        marks.update(dict.fromkeys(disorder, OUT_OF_ORDER))
        if missing:
            return Verdict(
                complete=False,
                waiting_for=_missing_sentence([self.events[index] for index in sorted(missing)])
                + f" ({len(self.events) - len(missing)} of the {len(self.events)} expected "
                "events are in the trace)",
                marks=marks,
                missing=missing,
            )
        reasons = []
        if disorder:
            reasons.append("the events are out of order: " + "; ".join(disorder.values()))
        if self.exactly:
            unexpected = [p for p, mark in sorted(marks.items()) if mark == UNEXPECTED]
            repeated = [p for p, mark in sorted(marks.items()) if mark == DUPLICATE]
            if unexpected:
                reasons.append(
                    "the trace has events the chain does not: " + _labels(trace, unexpected)
                )
            if repeated:
                reasons.append(
                    "events occur more often than the chain has them: " + _labels(trace, repeated)
                )
        if not reasons:
            return Verdict(complete=True, marks=marks)
        count = len(self.events)
        return Verdict(
            complete=True,
            failure="; ".join(reasons),
            marks=marks,
            note=f"all {count} expected events were in the trace, so it was checked at once"
            if count > 1
            else "the expected event was in the trace, so it was checked at once",
        )

    def expected(self) -> list[str]:
        return list(self.events)

    def __str__(self) -> str:
        which = "contains exactly, in order" if self.exactly else "contains, in order"
        return f"{which}: {', '.join(self.events)}"


class Before(TraceExpectation):
    """The first ``first`` event comes before the first ``second`` event."""

    def __init__(self, first: str, second: str) -> None:
        self.first, self.second = _names([first, second], "a before check")

    def evaluate(self, trace: Trace) -> Verdict:
        return _pair(trace, self.first, self.second, None)

    def expected(self) -> list[str]:
        return [self.first, self.second]

    def __str__(self) -> str:
        return f'"{self.first}" occurs before "{self.second}"'


class WithinAfter(TraceExpectation):
    """The first ``event`` comes after the first ``after``, by at most ``within``.

    Order is judged by the trace's ordering, the time by the events' timestamps, which
    both events must have.
    """

    def __init__(self, event: str, after: str, within: Seconds) -> None:
        self.after, self.event = _names([after, event], "a time bound")
        self.within = to_seconds(within)

    def evaluate(self, trace: Trace) -> Verdict:
        return _pair(trace, self.after, self.event, self.within)

    def expected(self) -> list[str]:
        return [self.after, f"{self.event} (within {format_duration(self.within)})"]

    def __str__(self) -> str:
        return f'"{self.event}" occurs within {format_duration(self.within)} after "{self.after}"'


class ExactlyOnce(TraceExpectation):
    """``event`` occurs once: a second occurrence fails as soon as it is seen."""

    exact = True

    def __init__(self, event: str) -> None:
        (self.event,) = _names([event], "an exactly-once check")

    def evaluate(self, trace: Trace) -> Verdict:
        positions = trace.positions(self.event)
        if not positions:
            return Verdict(
                complete=False, waiting_for=_missing_sentence([self.event]), missing=frozenset({0})
            )
        marks = dict.fromkeys(positions[1:], DUPLICATE)
        if len(positions) == 1:
            return Verdict(complete=True)
        return Verdict(
            complete=True,
            failure=f"{self.event} occurs {len(positions)} times: {_labels(trace, positions)}",
            marks=marks,
        )

    def expected(self) -> list[str]:
        return [f"{self.event} (exactly once)"]

    def __str__(self) -> str:
        return f'"{self.event}" occurs exactly once'


class Absent(TraceExpectation):
    """``event`` is not in the trace."""

    def __init__(self, event: str) -> None:
        (self.event,) = _names([event], "an absence check")

    def evaluate(self, trace: Trace) -> Verdict:
        positions = trace.positions(self.event)
        if not positions:
            return Verdict(complete=True)
        times = "" if len(positions) == 1 else f" ({len(positions)} times)"
        return Verdict(
            complete=True,
            failure=f"{trace.label(positions[0])} is in the trace{times}",
            marks=dict.fromkeys(positions, "must not occur"),
        )

    def expected(self) -> list[str]:
        return [f"no {self.event}"]

    def __str__(self) -> str:
        return f'has no "{self.event}" event'


# --------------------------------------------------------------------------------------
# Private helpers
# --------------------------------------------------------------------------------------


def _names(events: Sequence[str], what: str) -> list[str]:
    names = [str(event).strip() for event in events]
    if not names or not all(names):
        raise InvalidInput(
            f"{what[0].upper()}{what[1:]} needs event types, none of them empty; "
            f"got {list(events)!r}."
        )
    return names


def _pair(trace: Trace, first: str, second: str, within: float | None) -> Verdict:
    """``second`` after ``first`` (and within ``within`` seconds of it, when given)."""
    firsts, seconds = trace.positions(first), trace.positions(second)
    marks = dict.fromkeys([*firsts[1:], *seconds[1:]], DUPLICATE)
    missing = frozenset(index for index, found in enumerate((firsts, seconds)) if not found)
    if missing:
        absent = [name for index, name in enumerate((first, second)) if index in missing]
        return Verdict(
            complete=False, waiting_for=_missing_sentence(absent), marks=marks, missing=missing
        )
    a, b = firsts[0], seconds[0]
    note = "both events were in the trace, so it was checked at once"
    if b < a:
        marks[b] = OUT_OF_ORDER
        failure = f"the events are out of order: {trace.label(b)} came before {trace.label(a)}"
        return Verdict(complete=True, failure=failure, marks=marks, note=note)
    if within is None:
        return Verdict(complete=True, marks=marks)
    start, end = trace.events[a].timestamp, trace.events[b].timestamp
    if start is None or end is None:
        lacking = trace.events[a] if start is None else trace.events[b]
        raise ConfigurationError(
            f"The trace event {lacking.type} from {lacking.source or trace.store} has no "
            "timestamp, so the time between two events cannot be measured. A time bound "
            "needs a store that records when each event happened."
        )
    gap = (end - start).total_seconds()
    if gap < 0:
        marks[b] = f"recorded {format_duration(-gap)} before {first}"
        failure = (
            f"{trace.label(b)} comes after {trace.label(a)} by {trace.order_by}, but its "
            f"timestamp is {format_duration(-gap)} earlier"
        )
    elif gap > within:
        marks[b] = f"{format_duration(gap)} after {first}"
        failure = (
            f"{trace.label(b)} came {format_duration(gap)} after {trace.label(a)}, later "
            f"than the {format_duration(within)} allowed"
        )
    else:
        return Verdict(complete=True, marks=marks)
    return Verdict(complete=True, failure=failure, marks=marks, note=note)


def _match_occurrences(events: Sequence[str], trace: Trace) -> list[int | None]:
    """For each expected event, the index of its n-th occurrence (n-th mention), if any."""
    seen: dict[str, int] = {}
    matched: list[int | None] = []
    for event in events:
        nth = seen.get(event, 0)
        seen[event] = nth + 1
        positions = trace.positions(event)
        matched.append(positions[nth] if nth < len(positions) else None)
    return matched


def _is_subsequence(events: Sequence[str], trace: Trace) -> bool:
    """Whether ``events`` occur in this order in the trace, others in between allowed."""
    remaining = iter(trace.types)
    return all(any(found == event for found in remaining) for event in events)


def _disorder(matched: Sequence[int | None], trace: Trace) -> dict[int, str]:
    """The matched events that break the expected order, each with the reason.

    The events kept in order are a longest run whose indexes increase in expected order,
    preferring the events expected earliest; each of the others is out of order, and the
    reason names a kept event it came before (or after) when it should not have.
    """
    found = [
        (expected, position) for expected, position in enumerate(matched) if position is not None
    ]
    longest_from = [1] * len(found)
    for i in range(len(found) - 1, -1, -1):
        for j in range(i + 1, len(found)):
            if found[j][1] > found[i][1]:
                longest_from[i] = max(longest_from[i], 1 + longest_from[j])
    kept: list[tuple[int, int]] = []
    needed = max(longest_from, default=0)
    for i, item in enumerate(found):
        if longest_from[i] == needed and (not kept or item[1] > kept[-1][1]):
            kept.append(item)
            needed -= 1
    reasons: dict[int, str] = {}
    for expected, position in found:
        if (expected, position) in kept:
            continue
        earlier = [item for item in kept if item[0] < expected and item[1] > position]
        if earlier:
            other = earlier[-1][1]
            reasons[position] = f"{trace.label(position)} came before {trace.label(other)}"
        else:
            later = [item for item in kept if item[0] > expected and item[1] < position]
            other = later[0][1]
            reasons[position] = f"{trace.label(position)} came after {trace.label(other)}"
    return reasons


def _missing_sentence(names: Sequence[str]) -> str:
    if len(names) == 1:
        return f"{names[0]} is not in the trace"
    return f"{', '.join(names[:-1])} and {names[-1]} are not in the trace"


def _labels(trace: Trace, positions: Sequence[int]) -> str:
    return ", ".join(trace.label(position) for position in positions)
