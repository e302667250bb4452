"""Trace events from raw store values, and the order of a trace."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from trace_fakes import T0, event

from asyncbdd.errors import ConfigurationError, InvalidInput
from asyncbdd.traces import make_event, order_events

PLUS_TWO = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (T0, T0),
        (datetime(2024, 5, 1, 10, 0, 0), T0),
        (datetime(2024, 5, 1, 12, 0, 0, tzinfo=PLUS_TWO), T0),
        ("2024-05-01T10:00:00Z", T0),
        ("2024-05-01 10:00:00.250", T0 + timedelta(milliseconds=250)),
        ("2024-05-01T12:00:00+02:00", T0),
        (T0.timestamp(), T0),
        (Decimal(str(T0.timestamp())), T0),
        (None, None),
    ],
)
def test_timestamps_become_aware_datetimes(raw: object, expected: datetime | None) -> None:
    """Datetimes, ISO text and epoch seconds all read as one instant; naive ones as UTC."""
    read = make_event(type="a", timestamp=raw, source="test").timestamp
    assert read == expected
    assert read is None or read.tzinfo is not None


@pytest.mark.parametrize("raw", ["yesterday", [1, 2], True])
def test_an_unreadable_timestamp_names_the_event(raw: object) -> None:
    """A timestamp that is no time is an input error naming where the event came from."""
    with pytest.raises(InvalidInput, match=r"of the trace event at table t, id 7 is"):
        make_event(type="a", timestamp=raw, source="table t, id 7")


@pytest.mark.parametrize(
    ("raw", "expected"), [(3, 3), ("12", 12), (4.0, 4), (Decimal("5"), 5), (None, None)]
)
def test_sequences_become_integers(raw: object, expected: int | None) -> None:
    """Whole numbers in any form are sequence numbers."""
    assert make_event(type="a", sequence=raw, source="test").sequence == expected


@pytest.mark.parametrize("raw", ["first", 2.5, True])
def test_a_sequence_that_is_no_whole_number_is_rejected(raw: object) -> None:
    """A sequence must number a place in the chain."""
    with pytest.raises(InvalidInput, match="is not a whole number"):
        make_event(type="a", sequence=raw, source="test")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"order_id": "ord-1", "amount": 99.99}', {"order_id": "ord-1", "amount": 99.99}),
        (b'{"order_id": "ord-1"}', {"order_id": "ord-1"}),
        ({"order_id": "ord-1"}, {"order_id": "ord-1"}),
        ("not json", {"value": "not json"}),
        ("[1, 2]", {"value": [1, 2]}),
        (None, {}),
    ],
)
def test_attributes_become_a_dict(raw: object, expected: dict[str, object]) -> None:
    """JSON text is parsed; what is not an object is kept under "value"."""
    assert make_event(type="a", attributes=raw, source="test").attributes == expected


def test_an_event_needs_a_type() -> None:
    """An event without a type cannot be checked, and says which it is."""
    with pytest.raises(InvalidInput, match="The trace event at GET /x, event 2 has no event type"):
        make_event(type="  ", source="GET /x, event 2")


def test_events_sort_by_sequence_keeping_the_store_order_of_equals() -> None:
    """Sorting by sequence is stable: equal sequence numbers keep the store's order."""
    events = [event("c", 3), event("a", 1), event("b2", 2), event("b1", 2)]
    assert [e.type for e in order_events(events, "sequence")] == ["a", "b2", "b1", "c"]


def test_events_sort_by_timestamp() -> None:
    """Ordering by timestamp ignores sequence numbers."""
    events = [event("late", 1, 500), event("early", 2, 100)]
    assert [e.type for e in order_events(events, "timestamp")] == ["early", "late"]


def test_ordering_by_a_field_an_event_lacks_is_a_configuration_error() -> None:
    """A trace whose order cannot be known says which event lacks the field."""
    with pytest.raises(ConfigurationError, match="The trace event b from memory #2 has no time"):
        order_events([event("a", 1, 0), event("b", 2)], "timestamp")


def test_an_unknown_ordering_is_rejected() -> None:
    """Only sequence and timestamp order a trace."""
    with pytest.raises(InvalidInput, match="not 'arrival'"):
        order_events([], "arrival")
