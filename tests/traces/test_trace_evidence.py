"""A trace check's failure carries its timeline as data, and draws it."""

from __future__ import annotations

from xml.etree import ElementTree

import pytest
from trace_fakes import HEALTHY_CHAIN, MemoryStore, chain

from asyncbdd.errors import WaitAborted
from asyncbdd.evidence import TraceTimeline, evidence_of, recorded_waits
from asyncbdd.scenario import Scenario
from asyncbdd.traces import expect_chain


def test_an_out_of_order_chain_carries_its_marked_timeline(
    store: MemoryStore, scenario: Scenario
) -> None:
    """The failure's evidence holds the events with their marks and the expected events;
    its text is the failure's message, and its picture is the timeline by service."""
    kinds = [*HEALTHY_CHAIN[:2], HEALTHY_CHAIN[3], HEALTHY_CHAIN[2], *HEALTHY_CHAIN[4:]]
    store.record(scenario.correlation_id, *chain(*kinds))
    with pytest.raises(WaitAborted) as raised:
        expect_chain(HEALTHY_CHAIN, trace=store, timeout=30)
    evidence = evidence_of(raised.value)
    assert evidence is not None
    assert evidence.pattern == "trace"
    assert evidence.to_text() == str(raised.value)
    [timeline] = [s for s in evidence.all_sections() if isinstance(s, TraceTimeline)]
    assert [event.type for event in timeline.events] == kinds
    assert [event.mark for event in timeline.events].count("out of order") == 1
    assert [event.name for event in timeline.expected] == HEALTHY_CHAIN
    assert timeline.deadline_ms is not None
    assert timeline.deadline_ms > 29_000
    [picture] = evidence.pictures()
    root = ElementTree.fromstring(picture.svg)
    marks = {node.get("data-mark") for node in root.iter("{http://www.w3.org/2000/svg}g")}
    assert "out of order" in marks
    assert recorded_waits()[-1] is evidence


def test_a_missing_event_is_marked_missing_beside_the_timeline(
    store: MemoryStore, scenario: Scenario
) -> None:
    store.record(scenario.correlation_id, *chain(*HEALTHY_CHAIN[:-1]))
    with pytest.raises(AssertionError) as raised:
        expect_chain(HEALTHY_CHAIN, trace=store, timeout=0.2)
    evidence = evidence_of(raised.value)
    assert evidence is not None
    [timeline] = [s for s in evidence.all_sections() if isinstance(s, TraceTimeline)]
    assert [event.name for event in timeline.expected if event.missing] == [HEALTHY_CHAIN[-1]]
    assert "missing" in evidence.pictures()[0].svg
