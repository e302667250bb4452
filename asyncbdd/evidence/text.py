"""The failure text: one builder for the evidence of every pattern.

Every failure opens the same way; the body is the evidence's sections, each laid out for
its pattern::

    Waited for: Then within 1 second the billing queue receives 2 messages
    Failed because the deadline passed: the billing queue received 1 of 2.
      deadline:    1 s, elapsed 1.00 s
      ...sections...

An expectation of something already there opens with ``Checked: ...`` instead, and has
no deadline line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from asyncbdd.durations import format_duration
from asyncbdd.evidence.model import (
    ChannelArrivals,
    Diagnostics,
    Evidence,
    Mismatch,
    Notes,
    Polling,
    Section,
    SnapshotChange,
    TraceTimeline,
)
from asyncbdd.matching import shorten

__all__ = [
    "MAX_ASSERTION_LINES",
    "MAX_HISTORY_LINES",
    "MAX_LISTED",
    "MAX_TIMELINE_ROWS",
    "format_offset",
    "relative_time",
    "render_section",
    "render_text",
    "timeline_lines",
]

MAX_HISTORY_LINES = 12
"""Runs of values a poll's failure lists; the middle ones are counted."""
MAX_ASSERTION_LINES = 30
MAX_LISTED = 10
"""Arrivals listed per channel; the rest are counted."""
MAX_TIMELINE_ROWS = 60
"""Trace events shown at most; the rest are counted."""


def render_text(evidence: Evidence) -> str:
    """The evidence as text: the header every pattern shares, then its sections."""
    return "\n".join(header_lines(evidence) + body_lines(evidence.sections))


def header_lines(evidence: Evidence) -> list[str]:
    """What was awaited, why it failed, and (for a wait) its deadline and elapsed time."""
    if evidence.headline == "statement":
        return [f"{evidence.reason}."]
    if evidence.headline == "check":
        ending = ":" if evidence.sections else "."
        return [f"Checked: {evidence.awaited}", f"Failed because {evidence.reason}{ending}"]
    outcome = "Passed." if evidence.passed else f"Failed because {evidence.reason}."
    lines = [f"Waited for: {evidence.awaited}", outcome]
    if evidence.timeout is not None:
        scale = f" (x{evidence.scale:g} timeout scale)" if evidence.scale != 1 else ""
        lines.append(
            f"  {evidence.limit_name + ':':<12} {format_duration(evidence.timeout)}{scale}, "
            f"elapsed {format_duration(evidence.elapsed)}"
        )
    return lines


def body_lines(sections: Sequence[Section]) -> list[str]:
    lines: list[str] = []
    for section in sections:
        lines += render_section(section)
    return lines


def render_section(section: Section) -> list[str]:
    """The lines of one section, as the failure text shows them."""
    for kind, render in _RENDERERS:
        if isinstance(section, kind):
            return render(section)
    raise TypeError(f"No text rendering for {type(section).__name__}")


# --------------------------------------------------------------------------------------


def _polling(section: Polling) -> list[str]:
    last = f" (last {format_duration(section.last_interval)})" if section.attempts > 1 else ""
    lines = [
        f"  attempts:    {section.attempts}, interval {section.interval}{last}",
        f"  last value:  {section.last_value if section.last_value is not None else _NO_VALUE}",
    ]
    if section.history:
        lines.append("  values seen:")
        runs = list(section.history)
        over = len(runs) > MAX_HISTORY_LINES
        half = MAX_HISTORY_LINES // 2
        if over:
            skipped = len(runs) - 2 * half
            runs = [*runs[:half], *runs[-half:]]
        for index, run in enumerate(runs):
            if over and index == half:
                lines.append(f"    ... {skipped} more ...")
            times = "1 check" if run.count == 1 else f"{run.count} checks"
            lines.append(
                f"    {format_offset(run.first_seen):>9} - {format_offset(run.last_seen):<9}  "
                f"{run.value}  ({times})"
            )
    if section.swallowed:
        lines.append(f"  exceptions swallowed: {section.swallowed_count}")
        for kind in section.swallowed:
            lines.append(
                f"    {kind.count} x {kind.type}, last at {format_offset(kind.last_at)}: "
                f"{kind.last_message}"
            )
    if section.last_assertion:
        assertion = section.last_assertion.splitlines()
        if len(assertion) == 1:
            lines.append(f"  last assertion: {_short(assertion[0])}")
        else:
            lines.append("  last assertion:")
            lines.extend(f"    {line}" for line in assertion[:MAX_ASSERTION_LINES])
            if len(assertion) > MAX_ASSERTION_LINES:
                lines.append(f"    ... {len(assertion) - MAX_ASSERTION_LINES} more lines")
    return lines


def _diagnostics(section: Diagnostics) -> list[str]:
    text: list[str] = []
    for part in section.parts:
        text += part.splitlines() if isinstance(part, str) else render_section(part)
    return ["  diagnostics:", *(f"    {line}" for line in text)] if text else []


def _notes(section: Notes) -> list[str]:
    return list(section.lines)


def _arrivals(section: ChannelArrivals) -> list[str]:
    lines = [
        f"  {section.key}: {section.description}",
        f"    expected:  {section.expectation}".rstrip(),
    ]
    noun, received = section.noun, section.arrivals
    if not received:
        lines.append(f"    received:  no {noun} of this scenario")
    else:
        header = f"    received:  {len(received)} {_plural(len(received), noun)} of this scenario"
        if section.filtered:
            header += f", {sum(arrival.matched for arrival in received)} matching"
        lines.append(header + ":")
        for number, arrival in enumerate(received[:MAX_LISTED], 1):
            lines.append(f"      {number}. {relative_time(arrival.at):>9}  {arrival.summary}")
            lines += [f"           {remark}" for remark in arrival.remarks]
            lines += [f"           {problem}" for problem in arrival.problems[:5]]
        if len(received) > MAX_LISTED:
            lines.append(f"      ... {len(received) - MAX_LISTED} more")
    return lines + list(section.notes)


def _timeline(section: TraceTimeline) -> list[str]:
    return [
        *section.notes,
        f"trace of correlation id {section.correlation_id} in {section.store}",
        *timeline_lines(section),
    ]


def timeline_lines(section: TraceTimeline) -> list[str]:
    """The timeline of a trace with its marks, and the expected events beside it::

    timeline (by sequence):                                  expected:
         +0 ms  #1  orders     order.created              1 order.created
       +101 ms  #3  inventory  inventory.reserved  <- out of order   ...
    """
    header = f"timeline (by {section.order_by}):"
    events = section.events
    numbered = any(event.sequence is not None for event in events)
    left = [
        [
            "?" if event.offset_ms is None else f"+{event.offset_ms:,.0f} ms",
            ("#?" if event.sequence is None else f"#{event.sequence}") if numbered else "",
            event.service or "-",
            event.type,
            f"<- {event.mark}" if event.mark else "",
        ]
        for event in events[:MAX_TIMELINE_ROWS]
    ]
    widths = [max((len(row[column]) for row in left), default=0) for column in range(5)]
    rendered = [_join_cells(row, widths) for row in left]
    if not events:
        rendered = ["(no events)"]
    elif len(events) > MAX_TIMELINE_ROWS:
        rendered.append(f"... {len(events) - MAX_TIMELINE_ROWS} more events")
    right = [
        f"{number} {event.name}" + ("  <- missing" if event.missing else "")
        for number, event in enumerate(section.expected, 1)
    ]
    width = max([len(line) for line in rendered] + [len(header) - 2])
    lines = [f"{header.ljust(width + 2)}{_GAP}expected:"]
    for index in range(max(len(rendered), len(right))):
        event_text = rendered[index] if index < len(rendered) else ""
        wanted = right[index] if index < len(right) else ""
        lines.append(f"  {event_text.ljust(width)}{_GAP}{wanted}".rstrip())
    return lines


def _join_cells(cells: list[str], widths: list[int]) -> str:
    time, sequence, service, kind, mark = cells
    numbered = f"{sequence.ljust(widths[1])}  " if widths[1] else ""
    text = (
        f"{time.rjust(widths[0])}  {numbered}{service.ljust(widths[2])}  "
        f"{kind.ljust(widths[3])}  {mark.ljust(widths[4])}"
    )
    return text.rstrip()


def _snapshot(section: SnapshotChange) -> list[str]:
    if section.expected is None:
        return list(section.lines)
    return [
        "Expected exactly:",
        *(f"  {change}" for change in section.expected or ("no change",)),
        "Actual:",
        *(f"  {line}" for line in section.actual),
        "Problems:",
        *(f"  {problem}" for problem in section.problems),
    ]


def _mismatch(section: Mismatch) -> list[str]:
    width = section.label_width
    return [
        *(f"  {problem}" for problem in section.problems),
        *(
            f"  {label:<{width}} {text}" if width else f"  {label} {text}"
            for label, text in section.facts
        ),
    ]


_RENDERERS: tuple[tuple[type, Callable[..., list[str]]], ...] = (
    (Polling, _polling),
    (Diagnostics, _diagnostics),
    (Notes, _notes),
    (ChannelArrivals, _arrivals),
    (TraceTimeline, _timeline),
    (SnapshotChange, _snapshot),
    (Mismatch, _mismatch),
)

# --------------------------------------------------------------------------------------


def format_offset(seconds: float) -> str:
    """Seconds since a wait began, as its history shows them: ``120 ms``, ``12.50 s``."""
    return f"{seconds * 1000:,.0f} ms" if seconds < 10 else f"{seconds:,.2f} s"


def relative_time(seconds: float) -> str:
    """Seconds since a wait began, signed: ``+120 ms``, ``-1.50 s`` (before it began)."""
    sign = "+" if seconds >= 0 else "-"
    return f"{sign}{format_duration(abs(seconds))}"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def _short(text: str) -> str:
    return shorten(" ".join(text.split()), _MAX_VALUE_LENGTH)


_GAP = "   "
_NO_VALUE = "(none: the probe never returned)"
_MAX_VALUE_LENGTH = 200
