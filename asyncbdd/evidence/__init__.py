"""The evidence of waits and expectations: what was awaited, how it ended, what was seen.

Every wait builds an :class:`Evidence` when it finishes, passed or failed; a failure
carries it (:func:`evidence_of`), the scenario keeps every one (:func:`recorded_waits`),
and listeners hear of each (:func:`on_wait_recorded`). Its text
(:meth:`Evidence.to_text`) is the failure's message; :meth:`Evidence.to_json` and
:meth:`Evidence.pictures` (self-contained SVG) are other renderings of the same data.

::

    try:
        wait_until(order_status, eq("shipped"), timeout=30)
    except AssertionError as failure:
        evidence = evidence_of(failure)
        for picture in evidence.pictures():
            Path(f"{picture.title}.svg").write_text(picture.svg)
        raise
"""

from asyncbdd.evidence.model import (
    MARKS,
    ArrivalEntry,
    ChannelArrivals,
    Diagnostics,
    DiffRow,
    Evidence,
    ExpectedEvent,
    Headline,
    Mismatch,
    Notes,
    Picture,
    Polling,
    Section,
    SnapshotChange,
    SwallowedKind,
    TimelineEvent,
    TraceTimeline,
    ValueRun,
)
from asyncbdd.evidence.record import (
    checked_failure,
    evidence_of,
    on_wait_recorded,
    record_wait,
    recorded_waits,
)

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
    "checked_failure",
    "evidence_of",
    "on_wait_recorded",
    "record_wait",
    "recorded_waits",
]
