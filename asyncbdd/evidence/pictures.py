"""Which pictures a piece of evidence gets: a swimlane timeline of what arrived (a trace,
queues, webhooks), the values a poll read, a snapshot's change."""

from __future__ import annotations

from asyncbdd.evidence.diff_table import draw_diff_table
from asyncbdd.evidence.model import (
    ChannelArrivals,
    Evidence,
    Picture,
    Polling,
    SnapshotChange,
    TraceTimeline,
)
from asyncbdd.evidence.swimlanes import arrival_swimlanes, draw_swimlanes, trace_swimlanes
from asyncbdd.evidence.value_chart import draw_value_chart

__all__ = ["pictures_of"]


def pictures_of(evidence: Evidence) -> list[Picture]:
    """The pictures of ``evidence``; a poll's values only when nothing better tells its
    story (a trace's timeline, a snapshot's change)."""
    sections = evidence.all_sections()
    pictures: list[Picture] = []
    arrivals = [section for section in sections if isinstance(section, ChannelArrivals)]
    if arrivals:
        lanes = arrival_swimlanes(arrivals, evidence.timeout, evidence.limit_name)
        pictures.append(Picture(f"Timeline of {_short(evidence.awaited)}", draw_swimlanes(lanes)))
    for section in sections:
        if isinstance(section, TraceTimeline):
            lanes = trace_swimlanes(section)
            pictures.append(Picture(lanes.title, draw_swimlanes(lanes)))
        elif isinstance(section, SnapshotChange) and section.rows:
            title = f"Change to {_short(section.description)}"
            pictures.append(Picture(title, draw_diff_table(section, title=title)))
    if not pictures:
        for section in sections:
            if isinstance(section, Polling) and section.history:
                title = f"Values of {_short(evidence.awaited)}"
                chart = draw_value_chart(
                    section, title=title, deadline=evidence.timeout, limit_name=evidence.limit_name
                )
                pictures.append(Picture(title, chart))
    return pictures


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= 80 else flat[:79] + "\u2026"
