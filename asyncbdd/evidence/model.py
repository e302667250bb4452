"""What a wait or an expectation knows when it ends: its evidence, as data.

An :class:`Evidence` is built by the engine when a wait finishes (passed or failed) and
carried by the failure it raises. It holds what every pattern has (what was awaited, the
deadline, the time it took, why it failed) and a body of pattern-specific
:class:`Section` objects: the values a poll read (:class:`Polling`), what arrived on
each channel (:class:`ChannelArrivals`), a trace's timeline (:class:`TraceTimeline`), a
snapshot's change (:class:`SnapshotChange`).

Text (:meth:`Evidence.to_text`, built by :mod:`asyncbdd.evidence.text`), JSON
(:meth:`Evidence.to_json`) and SVG pictures (:meth:`Evidence.pictures`) are renderings
of it. Values are kept as the failure shows them (shortened text), never as the objects
read: evidence outlives the scenario, and must not hold connections or secrets.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal

from asyncbdd.secrets import mask_urls_in

__all__ = [
    "MARKS",
    "ArrivalEntry",
    "ChannelArrivals",
    "Diagnostics",
    "DiffRow",
    "Evidence",
    "ExpectedEvent",
    "Headline",
    "Mismatch",
    "Notes",
    "Picture",
    "Polling",
    "Section",
    "SnapshotChange",
    "SwallowedKind",
    "TimelineEvent",
    "TraceTimeline",
    "ValueRun",
]

Headline = Literal["wait", "check", "statement"]
"""How the failure text opens: ``wait`` ("Waited for: ... / Failed because ... / deadline:
... elapsed ..."), ``check`` ("Checked: ... / Failed because ...:", an expectation of
something already there) or ``statement`` (the reason alone, as a sentence)."""

MARKS = ("missing", "out of order", "duplicate", "unexpected", "not matching", "timing")
"""What a picture marks on an item, each drawn distinctly: an expected item that never
came, one that came out of order, a repeat, one that should not have come at all, an
arrival that did not match what was expected, one at the wrong time."""


@dataclass(frozen=True)
class Picture:
    """One picture of the evidence: a title and a self-contained SVG document."""

    title: str
    svg: str


class Section:
    """A pattern-specific part of the evidence's body; ``kind`` names it in JSON."""

    kind: ClassVar[str] = "section"

    def to_json(self) -> dict[str, object]:
        """The section as JSON-serialisable data (secrets masked by :class:`Evidence`)."""
        fields = _plain(dataclasses.asdict(self))  # type: ignore[call-overload]
        assert isinstance(fields, dict)
        return {"kind": self.kind, **fields}


# --------------------------------------------------------------------------------------
# Polls
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueRun:
    """A run of equal consecutive values a poll read; times are seconds since it began."""

    value: str
    first_seen: float
    last_seen: float
    count: int


@dataclass(frozen=True)
class SwallowedKind:
    """The exceptions of one type a poll ignored: how many, and the last one."""

    type: str
    count: int
    last_at: float
    last_message: str


@dataclass(frozen=True)
class Polling(Section):
    """The checks of a poll: how many, how often, the values read over time."""

    kind: ClassVar[str] = "polling"
    attempts: int
    interval: str
    last_interval: float
    last_value: str | None
    """The last value read as shown; ``None`` when the probe never returned."""
    history: tuple[ValueRun, ...] = ()
    swallowed: tuple[SwallowedKind, ...] = ()
    swallowed_count: int = 0
    last_assertion: str | None = None


@dataclass(frozen=True)
class Notes(Section):
    """Lines of text, shown as they are."""

    kind: ClassVar[str] = "notes"
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Diagnostics(Section):
    """What the caller's ``on_timeout`` explained, and hints: text or sections."""

    kind: ClassVar[str] = "diagnostics"
    parts: tuple[str | Section, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "parts": [part if isinstance(part, str) else part.to_json() for part in self.parts],
        }


# --------------------------------------------------------------------------------------
# Arrivals: queue messages, webhook calls
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrivalEntry:
    """One arrival on a channel: when (seconds since the wait began; negative: before),
    what, and whether it counted."""

    at: float
    summary: str
    matched: bool
    problems: tuple[str, ...] = ()
    """Why it does not match what was expected."""
    remarks: tuple[str, ...] = ()
    """How it was answered, and the like."""


@dataclass(frozen=True)
class ChannelArrivals(Section):
    """What arrived on one channel (a queue alias, a webhook receiver) for the scenario."""

    kind: ClassVar[str] = "arrivals"
    channel: str
    """What sort of channel: ``queue``, ``webhook``."""
    key: str
    description: str
    noun: str
    expectation: str
    """What was expected of it, in words: ``exactly 2 with amount = 10``."""
    expected_count: int
    """How many matching arrivals were expected (0: none may come)."""
    exactly: bool
    filtered: bool
    """Whether arrivals had to match something (else every arrival counts)."""
    arrivals: tuple[ArrivalEntry, ...] = ()
    notes: tuple[str, ...] = ()
    """Lines that close its part of the text (messages skipped, the broker's trouble)."""


# --------------------------------------------------------------------------------------
# Traces
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TimelineEvent:
    """An event of a trace, with what is wrong with it (``mark``) if anything."""

    offset_ms: float | None
    """Milliseconds since the trace's earliest timestamp; ``None`` without one."""
    sequence: int | None
    service: str | None
    type: str
    mark: str | None = None


@dataclass(frozen=True)
class ExpectedEvent:
    """An event the check expected, and whether the trace lacks it."""

    name: str
    missing: bool = False


@dataclass(frozen=True)
class TraceTimeline(Section):
    """A trace as read last, its events marked, the expected events beside it."""

    kind: ClassVar[str] = "trace timeline"
    correlation_id: str
    store: str
    order_by: str
    events: tuple[TimelineEvent, ...]
    expected: tuple[ExpectedEvent, ...]
    notes: tuple[str, ...] = ()
    deadline_ms: float | None = None
    """The wait's deadline on the timeline's clock, when it can be placed on it."""


# --------------------------------------------------------------------------------------
# Snapshots and single checks
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffRow:
    """One cell of a snapshot's change: a row (by key), a column, before and after.

    ``change`` is ``changed``, ``inserted``, ``deleted`` or ``expected`` (an expected
    change not found); ``verdict`` is ``expected``, ``unexpected``, ``missing`` or ``""``
    (no expectation to judge by).
    """

    key: str
    column: str
    before: str
    after: str
    change: str
    verdict: str = ""


@dataclass(frozen=True)
class SnapshotChange(Section):
    """How rows changed since a snapshot, and (for an exact change) how that differs
    from what was expected."""

    kind: ClassVar[str] = "snapshot change"
    description: str
    rows: tuple[DiffRow, ...]
    lines: tuple[str, ...] = ()
    """The text of the change, as the failure shows it."""
    expected: tuple[str, ...] | None = None
    """The expected changes, one a line; ``None`` when none were stated."""
    actual: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mismatch(Section):
    """Why one thing (a message, a call) does not match, and what it was."""

    kind: ClassVar[str] = "mismatch"
    problems: tuple[str, ...]
    facts: tuple[tuple[str, str], ...] = ()
    """(label, text) pairs: ``("call:", "POST /hooks/... {...}")``."""
    label_width: int = 0


# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    """What was awaited, how it ended, and everything seen on the way.

    ``timeout`` is the deadline (or the window, for a wait that something holds or stays
    quiet throughout: ``limit_name`` says which) in seconds, ``None`` for a check that had
    none; ``elapsed`` is how long it took. ``reason`` completes "Failed because ...";
    ``None`` when it passed.
    """

    awaited: str
    pattern: str
    passed: bool
    timeout: float | None
    elapsed: float
    reason: str | None = None
    headline: Headline = "wait"
    limit_name: str = "deadline"
    scale: float = 1.0
    """The timeout scale that stretched ``timeout`` (1: none)."""
    sections: tuple[Section, ...] = ()

    def to_text(self) -> str:
        """The failure text (for a passing wait: what it waited for, and how long)."""
        from asyncbdd.evidence.text import render_text  # noqa: PLC0415 (it imports this module)

        return render_text(self)

    def to_json(self) -> dict[str, object]:
        """The evidence as JSON-serialisable data; URLs in it have their secrets masked."""
        document: dict[str, object] = {
            "awaited": self.awaited,
            "pattern": self.pattern,
            "passed": self.passed,
            "timeout": self.timeout,
            "elapsed": self.elapsed,
            "reason": self.reason,
            "limit": self.limit_name,
            "scale": self.scale,
            "sections": [section.to_json() for section in self.sections],
        }
        masked = _masked(document)
        assert isinstance(masked, dict)
        return masked

    def pictures(self) -> list[Picture]:
        """Pictures of the evidence: a timeline of what arrived, the values a poll read, a
        snapshot's change. Empty for a passing wait, and when there is nothing to draw."""
        from asyncbdd.evidence.pictures import pictures_of  # noqa: PLC0415 (it imports this module)

        return pictures_of(self)

    def all_sections(self) -> list[Section]:
        """The sections of the body, those inside diagnostics included, in order."""
        found: list[Section] = []
        for section in self.sections:
            found.append(section)
            if isinstance(section, Diagnostics):
                found += [part for part in section.parts if isinstance(part, Section)]
        return found

    @property
    def margin(self) -> float | None:
        """Seconds left of the deadline when it ended (``None`` without a deadline)."""
        return None if self.timeout is None else self.timeout - self.elapsed


def _plain(value: object) -> object:
    """Tuples as lists, recursively: what ``json`` makes of them anyway, made explicit."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _masked(value: object) -> object:
    """Every string with the secrets of the URLs in it masked."""
    if isinstance(value, str):
        return mask_urls_in(value)
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return value
