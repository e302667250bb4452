"""The trace checks on an in-memory store: when they pass, when they fail, what they say.

Events are recorded before a check starts, or while it waits (from a thread that starts
once the check has read the trace); the store wakes the check as they arrive, so passing
checks return at once and only checks of missing events wait out their deadline.
"""

from __future__ import annotations

import time

import pytest
from trace_fakes import HEALTHY_CHAIN, MemoryStore, chain, event

from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import ConfigurationError, InvalidInput, WaitAborted, WaitTimeout
from asyncbdd.scenario import Scenario
from asyncbdd.traces import (
    Before,
    InOrder,
    Trace,
    expect_before,
    expect_chain,
    expect_exactly_once,
    expect_no_event,
    expect_within_after,
    register_trace_store,
    render_timeline,
)

LONG = 30.0
"""A deadline no passing check, and no check that fails early, comes near."""
PROMPT = 5.0
"""What "at once" means here: far below LONG, far above any scheduling delay."""

CHAIN_STEP = "Then within 30 seconds the trace for this order contains, in order:"


def timed(action: object) -> float:
    """Seconds ``action()`` took."""
    started = time.monotonic()
    action()  # type: ignore[operator]
    return time.monotonic() - started


def failure(error: pytest.ExceptionInfo[AssertionError]) -> list[str]:
    """The failure's message, one line each, runs of spaces shown as one."""
    return [" ".join(line.split()) for line in str(error.value).splitlines()]


# --------------------------------------------------------------------------------------
# Chains in order
# --------------------------------------------------------------------------------------


def test_a_chain_in_order_passes_at_once(store: MemoryStore, scenario: Scenario) -> None:
    """A trace holding the chain in order passes on the first read, returning the trace."""
    store.record(scenario.correlation_id, *chain(*HEALTHY_CHAIN))
    trace = expect_chain(HEALTHY_CHAIN, trace=store, timeout=LONG)
    assert isinstance(trace, Trace)
    assert trace.types == HEALTHY_CHAIN
    assert store.reads == 1


def test_other_events_may_come_between_the_expected_ones(
    store: MemoryStore, scenario: Scenario
) -> None:
    """ "contains, in order" checks a subsequence: interleaved events are allowed."""
    store.record(
        scenario.correlation_id,
        *chain("order.created", "fraud.checked", "payment.completed", "audit.logged"),
    )
    expect_chain(["order.created", "payment.completed"], trace=store, timeout=LONG)


def test_a_chain_waits_for_events_recorded_while_it_waits(
    store: MemoryStore, scenario: Scenario
) -> None:
    """The check waits for the missing events and returns as soon as the last arrives."""
    events = chain(*HEALTHY_CHAIN)
    store.record(scenario.correlation_id, *events[:2])
    store.after_reads(1, lambda: store.record(scenario.correlation_id, *events[2:4]))
    store.after_reads(3, lambda: store.record(scenario.correlation_id, *events[4:]))
    took = timed(lambda: expect_chain(HEALTHY_CHAIN, trace=store, timeout=LONG))
    assert took < PROMPT
    assert store.reads >= 3


def test_order_is_by_sequence_not_by_arrival(store: MemoryStore, scenario: Scenario) -> None:
    """Events that reach the store late but carry the right sequence are in their place."""
    events = chain(*HEALTHY_CHAIN)
    store.record(scenario.correlation_id, events[3], events[0], events[5], events[1])
    store.after_reads(1, lambda: store.record(scenario.correlation_id, events[4], events[2]))
    trace = expect_chain(HEALTHY_CHAIN, trace=store, timeout=LONG)
    assert [e.sequence for e in trace.events] == [1, 2, 3, 4, 5, 6]


def test_a_complete_chain_out_of_order_fails_at_once(
    store: MemoryStore, scenario: Scenario
) -> None:
    """Once every expected event is in, a wrong order fails without waiting for the deadline."""
    kinds = [
        "order.created",
        "payment.initiated",
        "inventory.reserved",
        "payment.completed",
        "shipping.label_created",
        "notification.sent",
    ]
    store.record(scenario.correlation_id, *chain(*kinds))
    with pytest.raises(WaitAborted) as raised:
        expect_chain(HEALTHY_CHAIN, trace=store, timeout=LONG, description=CHAIN_STEP)
    lines = failure(raised)
    assert lines[0] == f"Waited for: {CHAIN_STEP}"
    assert lines[1] == (
        "Failed because the events are out of order: inventory.reserved (#3) came before "
        "payment.completed (#4)."
    )
    assert lines[2].startswith("deadline: 30 s, elapsed")
    assert "all 6 expected events were in the trace, so it was checked at once" in lines
    assert f"trace of correlation id {scenario.correlation_id} in memory" in lines
    at = lines.index(f"trace of correlation id {scenario.correlation_id} in memory")
    assert lines[at + 1 :] == [
        "timeline (by sequence): expected:",
        "+0 ms #1 orders order.created 1 order.created",
        "+50 ms #2 payments payment.initiated 2 payment.initiated",
        "+100 ms #3 inventory inventory.reserved <- out of order 3 payment.completed",
        "+150 ms #4 payments payment.completed 4 inventory.reserved",
        "+200 ms #5 shipping shipping.label_created 5 shipping.label_created",
        "+250 ms #6 notifications notification.sent 6 notification.sent",
    ]


def test_a_missing_event_fails_at_the_deadline_naming_it(
    store: MemoryStore, scenario: Scenario
) -> None:
    """An incomplete chain waits out its deadline, then names what is missing."""
    events = chain(*HEALTHY_CHAIN)
    store.record(scenario.correlation_id, *events[:5])
    with pytest.raises(WaitTimeout) as raised:
        expect_chain(HEALTHY_CHAIN, trace=store, timeout=0.3, description=CHAIN_STEP)
    assert not isinstance(raised.value, WaitAborted)
    lines = failure(raised)
    assert lines[1] == "Failed because the deadline passed."
    assert (
        "last assertion: notification.sent is not in the trace (5 of the 6 expected events "
        "are in the trace)"
    ) in lines
    assert lines[-2:] == [
        "+200 ms #5 shipping shipping.label_created 5 shipping.label_created",
        "6 notification.sent <- missing",
    ]


def test_out_of_order_marks_the_fewest_events(store: MemoryStore, scenario: Scenario) -> None:
    """One event moved to the end is the one marked, not the three it jumped over."""
    store.record(
        scenario.correlation_id,
        *chain("payment.initiated", "payment.completed", "inventory.reserved", "order.created"),
    )
    expected = ["order.created", "payment.initiated", "payment.completed", "inventory.reserved"]
    with pytest.raises(WaitAborted) as raised:
        expect_chain(expected, trace=store, timeout=LONG)
    lines = failure(raised)
    assert lines[1] == (
        "Failed because the events are out of order: order.created (#4) came after "
        "payment.initiated (#1)."
    )
    assert sum("<- out of order" in line for line in lines) == 1


def test_repeats_are_shown_but_allowed_in_a_subsequence(
    store: MemoryStore, scenario: Scenario
) -> None:
    """A repeated expected event is marked in the timeline; it alone does not fail."""
    store.record(
        scenario.correlation_id,
        *chain("order.created", "payment.completed", "payment.completed", "order.created"),
    )
    expect_chain(["order.created", "payment.completed"], trace=store, timeout=LONG)
    trace = expect_chain(["payment.completed", "order.created"], trace=store, timeout=LONG)
    verdict = InOrder(["order.created", "payment.completed"]).evaluate(trace)
    assert verdict.passed
    assert dict(verdict.marks) == {2: "duplicate", 3: "duplicate"}


def test_an_event_expected_twice_needs_two_occurrences(
    store: MemoryStore, scenario: Scenario
) -> None:
    """An event named twice in the chain is its first and second occurrence."""
    kinds = ["payment.attempted", "payment.failed", "payment.attempted", "payment.completed"]
    store.record(scenario.correlation_id, *chain(*kinds[:3]))
    with pytest.raises(WaitTimeout) as raised:
        expect_chain(kinds, trace=store, timeout=0.2)
    assert "payment.completed is not in the trace" in str(raised.value)
    store.record(scenario.correlation_id, event("payment.completed", 4, 150))
    expect_chain(kinds, trace=store, timeout=LONG)


# --------------------------------------------------------------------------------------
# Exact chains
# --------------------------------------------------------------------------------------


def test_an_exact_chain_passes_after_its_grace_window(
    store: MemoryStore, scenario: Scenario
) -> None:
    """ "contains exactly" passes when the trace is the chain and stays so for the grace."""
    store.record(scenario.correlation_id, *chain(*HEALTHY_CHAIN))
    took = timed(lambda: expect_chain(HEALTHY_CHAIN, exactly=True, trace=store, grace=0.1))
    assert 0.1 <= took < PROMPT


def test_an_exact_chain_fails_on_an_unexpected_event(
    store: MemoryStore, scenario: Scenario
) -> None:
    """An event the chain does not have fails an exact chain, marked unexpected."""
    store.record(
        scenario.correlation_id,
        *chain("order.created", "payment.retried", "payment.completed"),
    )
    with pytest.raises(WaitAborted) as raised:
        expect_chain(
            ["order.created", "payment.completed"], exactly=True, trace=store, timeout=LONG
        )
    lines = failure(raised)
    assert lines[1] == (
        "Failed because the trace has events the chain does not: payment.retried (#2)."
    )
    assert "+50 ms #2 tests payment.retried <- unexpected 2 payment.completed" in lines


def test_an_exact_chain_fails_on_a_duplicate(store: MemoryStore, scenario: Scenario) -> None:
    """A repeated event fails an exact chain, marked duplicate."""
    store.record(
        scenario.correlation_id,
        *chain("order.created", "payment.completed", "payment.completed"),
    )
    with pytest.raises(WaitAborted) as raised:
        expect_chain(
            ["order.created", "payment.completed"], exactly=True, trace=store, timeout=LONG
        )
    lines = failure(raised)
    assert lines[1] == (
        "Failed because events occur more often than the chain has them: payment.completed (#3)."
    )
    assert lines[-1] == "+100 ms #3 payments payment.completed <- duplicate"


def test_an_exact_chain_fails_on_an_extra_event_within_the_grace_window(
    store: MemoryStore, scenario: Scenario
) -> None:
    """An extra event arriving after the chain passed, within the grace, fails at once."""
    store.record(scenario.correlation_id, *chain("order.created", "payment.completed"))
    store.after_reads(
        2,
        lambda: store.record(scenario.correlation_id, event("payment.completed", 3, 100)),
    )
    with pytest.raises(WaitAborted) as raised:
        expect_chain(["order.created", "payment.completed"], exactly=True, trace=store, grace=LONG)
    lines = failure(raised)
    assert lines[1] == (
        "Failed because events occur more often than the chain has them: payment.completed "
        "(#3), within the 30 s grace window after it passed."
    )
    assert lines[2].startswith("window:")
    assert (
        "the trace met the expectation; it was then watched for the 30 s grace window "
        "(setting asyncbdd.grace)"
    ) in lines


def test_an_exact_chain_in_the_wrong_order_fails(store: MemoryStore, scenario: Scenario) -> None:
    """An exact chain whose events are all there but swapped is out of order."""
    store.record(scenario.correlation_id, *chain("payment.completed", "order.created"))
    with pytest.raises(
        WaitAborted, match=r"payment.completed \(#1\) came before order.created \(#2\)\."
    ):
        expect_chain(["order.created", "payment.completed"], exactly=True, trace=store)


# --------------------------------------------------------------------------------------
# Ordering
# --------------------------------------------------------------------------------------


def test_order_by_timestamp_when_configured(store: MemoryStore, scenario: Scenario) -> None:
    """With asyncbdd.traces.order_by = timestamp, timestamps order events without sequences."""
    set_settings(Settings(traces_order_by="timestamp", grace=0.1))
    store.record(
        scenario.correlation_id,
        event("payment.completed", None, 80),
        event("order.created", None, 10),
    )
    trace = expect_chain(["order.created", "payment.completed"], trace=store, timeout=LONG)
    assert trace.order_by == "timestamp"
    store.record(scenario.correlation_id, event("inventory.reserved", None, 5))
    with pytest.raises(WaitAborted) as raised:
        expect_before("payment.completed", "inventory.reserved", trace=store, timeout=LONG)
    assert "inventory.reserved (at +0 ms) came before payment.completed (at +75 ms)" in str(
        raised.value
    )
    assert "timeline (by timestamp):" in str(raised.value)


def test_a_missing_sequence_is_a_clear_error(store: MemoryStore, scenario: Scenario) -> None:
    """Ordering by sequence, an event without one stops the check with what to do."""
    store.record(scenario.correlation_id, event("order.created", 1, 0), event("audit", None, 5))
    with pytest.raises(ConfigurationError) as raised:
        expect_chain(["order.created"], trace=store, timeout=LONG)
    message = str(raised.value)
    assert "The trace event audit from memory #None has no sequence" in message
    assert "asyncbdd.traces.order_by" in message
    assert "or order by timestamp if every event has one" in message


def test_order_by_can_be_given_per_check(store: MemoryStore, scenario: Scenario) -> None:
    """A check's order_by overrides the store's and the setting's."""
    store.record(
        scenario.correlation_id,
        event("payment.completed", 1, 90),
        event("order.created", 2, 10),
    )
    expect_before("order.created", "payment.completed", trace=store, order_by="timestamp")
    with pytest.raises(WaitAborted):
        expect_before("order.created", "payment.completed", trace=store, order_by="sequence")


# --------------------------------------------------------------------------------------
# Two events: before, and within a time after
# --------------------------------------------------------------------------------------


def test_before_passes_when_the_first_comes_first(store: MemoryStore, scenario: Scenario) -> None:
    """ "A occurs before B" passes once both are in, A at a lower index."""
    store.record(scenario.correlation_id, *chain(*HEALTHY_CHAIN))
    expect_before("payment.completed", "shipping.label_created", trace=store, timeout=LONG)


def test_before_fails_at_once_when_the_second_comes_first(
    store: MemoryStore, scenario: Scenario
) -> None:
    """ "A occurs before B" fails as soon as both are in with B first."""
    store.record(
        scenario.correlation_id,
        *chain("order.created", "shipping.label_created", "payment.completed"),
    )
    with pytest.raises(WaitAborted) as raised:
        expect_before("payment.completed", "shipping.label_created", trace=store, timeout=LONG)
    lines = failure(raised)
    assert lines[0] == (
        'Waited for: in the trace in memory, "payment.completed" occurs before '
        '"shipping.label_created"'
    )
    assert lines[1] == (
        "Failed because the events are out of order: shipping.label_created (#2) came before "
        "payment.completed (#3)."
    )
    assert "both events were in the trace, so it was checked at once" in lines
    assert lines[-2:] == [
        "+50 ms #2 shipping shipping.label_created <- out of order 2 shipping.label_created",
        "+100 ms #3 payments payment.completed",
    ]


def test_before_waits_for_the_first_event(store: MemoryStore, scenario: Scenario) -> None:
    """With only the second event in, "before" waits; the first arriving later passes."""
    store.record(scenario.correlation_id, event("shipping.label_created", 5, 200))
    store.after_reads(
        1, lambda: store.record(scenario.correlation_id, event("payment.completed", 3, 100))
    )
    expect_before("payment.completed", "shipping.label_created", trace=store, timeout=LONG)


def test_before_names_the_missing_event_at_the_deadline(
    store: MemoryStore, scenario: Scenario
) -> None:
    """A "before" check whose first event never comes names it."""
    store.record(scenario.correlation_id, event("shipping.label_created", 5, 200))
    with pytest.raises(WaitTimeout) as raised:
        expect_before("payment.completed", "shipping.label_created", trace=store, timeout=0.2)
    lines = failure(raised)
    assert "last assertion: payment.completed is not in the trace" in lines
    assert lines[-2].split() == [
        "+0",
        "ms",
        "#5",
        "shipping",
        "shipping.label_created",
        "1",
        "payment.completed",
        "<-",
        "missing",
    ]


def test_within_after_passes_inside_the_bound(store: MemoryStore, scenario: Scenario) -> None:
    """B 1.5 s after A passes "B occurs within 2 seconds after A"."""
    store.record(
        scenario.correlation_id,
        event("payment.completed", 3, 1000),
        event("notification.sent", 6, 2500),
    )
    expect_within_after("notification.sent", "payment.completed", 2, trace=store, timeout=LONG)


def test_within_after_fails_at_once_when_too_late(store: MemoryStore, scenario: Scenario) -> None:
    """B 2.5 s after A fails a 2-second bound as soon as both are in."""
    store.record(
        scenario.correlation_id,
        event("payment.completed", 3, 1000),
        event("notification.sent", 6, 3500),
    )
    with pytest.raises(WaitAborted) as raised:
        expect_within_after("notification.sent", "payment.completed", 2, trace=store, timeout=LONG)
    lines = failure(raised)
    assert lines[1] == (
        "Failed because notification.sent (#6) came 2.50 s after payment.completed (#3), "
        "later than the 2 s allowed."
    )
    assert lines[-1] == (
        "+2,500 ms #6 notifications notification.sent <- 2.50 s after payment.completed "
        "2 notification.sent (within 2 s)"
    )


def test_within_after_fails_when_out_of_order(store: MemoryStore, scenario: Scenario) -> None:
    """B before A fails "B occurs within 2 seconds after A" whatever the times."""
    store.record(
        scenario.correlation_id,
        event("notification.sent", 2, 1000),
        event("payment.completed", 3, 1100),
    )
    with pytest.raises(WaitAborted, match=r"notification.sent \(#2\) came before payment"):
        expect_within_after("notification.sent", "payment.completed", 2, trace=store)


def test_within_after_needs_timestamps(store: MemoryStore, scenario: Scenario) -> None:
    """A time bound on events without timestamps is an error, not a pass."""
    store.record(
        scenario.correlation_id,
        event("payment.completed", 3),
        event("notification.sent", 6),
    )
    with pytest.raises(ConfigurationError, match="has no timestamp, so the time between"):
        expect_within_after("notification.sent", "payment.completed", 2, trace=store)


# --------------------------------------------------------------------------------------
# One event: exactly once, and never
# --------------------------------------------------------------------------------------


def test_exactly_once_passes_after_the_grace_window(store: MemoryStore, scenario: Scenario) -> None:
    """One occurrence, and no second within the grace window, passes."""
    store.record(scenario.correlation_id, *chain(*HEALTHY_CHAIN))
    took = timed(lambda: expect_exactly_once("payment.completed", trace=store, grace=0.1))
    assert 0.1 <= took < PROMPT


def test_exactly_once_fails_at_once_on_a_duplicate(store: MemoryStore, scenario: Scenario) -> None:
    """Two occurrences fail "exactly once" at once, the second marked duplicate."""
    store.record(
        scenario.correlation_id,
        *chain("order.created", "payment.completed", "payment.completed"),
    )
    with pytest.raises(WaitAborted) as raised:
        expect_exactly_once("payment.completed", trace=store, timeout=LONG, grace=LONG)
    lines = failure(raised)
    assert lines[1] == (
        "Failed because payment.completed occurs 2 times: payment.completed (#2), "
        "payment.completed (#3)."
    )
    assert (
        lines[-3:]
        == [
            "timeline (by sequence): expected:",
            "+0 ms #1 orders order.created 1 payment.completed (exactly once)",
            "+50 ms #2 payments payment.completed",
            "+100 ms #3 payments payment.completed <- duplicate",
        ][-3:]
    )


def test_exactly_once_fails_on_a_duplicate_within_the_grace_window(
    store: MemoryStore, scenario: Scenario
) -> None:
    """A second occurrence arriving within the grace window fails at once."""
    store.record(scenario.correlation_id, event("payment.completed", 3, 0))
    store.after_reads(
        2, lambda: store.record(scenario.correlation_id, event("payment.completed", 4, 10))
    )
    with pytest.raises(WaitAborted) as raised:
        expect_exactly_once("payment.completed", trace=store, grace=LONG)
    assert "within the 30 s grace window after it passed" in str(raised.value)


def test_exactly_once_waits_for_the_event(store: MemoryStore, scenario: Scenario) -> None:
    """No occurrence at the deadline fails naming the event."""
    with pytest.raises(WaitTimeout) as raised:
        expect_exactly_once("payment.completed", trace=store, timeout=0.2)
    lines = failure(raised)
    assert "last assertion: payment.completed is not in the trace" in lines
    assert lines[-1] == "(no events) 1 payment.completed (exactly once) <- missing"


def test_no_event_passes_when_it_stays_away(store: MemoryStore, scenario: Scenario) -> None:
    """An absent event that stays absent for the window passes at the window's end."""
    store.record(scenario.correlation_id, *chain(*HEALTHY_CHAIN))
    took = timed(lambda: expect_no_event("payment.failed", during=0.2, trace=store))
    assert 0.2 <= took < PROMPT


def test_no_event_fails_at_once_when_it_is_there(store: MemoryStore, scenario: Scenario) -> None:
    """An event that must not occur but is in the trace fails on the first read."""
    store.record(
        scenario.correlation_id, *chain("order.created", "payment.initiated", "payment.failed")
    )
    with pytest.raises(WaitAborted) as raised:
        expect_no_event(
            "payment.failed",
            during=LONG,
            trace=store,
            description='Then the trace for this order has no "payment.failed" event within 30 s',
        )
    lines = failure(raised)
    assert lines[1] == "Failed because payment.failed (#3) is in the trace."
    assert lines[2].startswith("window: 30 s, elapsed")
    assert lines[-3:] == [
        "+0 ms #1 orders order.created 1 no payment.failed",
        "+50 ms #2 payments payment.initiated",
        "+100 ms #3 payments payment.failed <- must not occur",
    ]


def test_no_event_fails_when_it_appears_during_the_window(
    store: MemoryStore, scenario: Scenario
) -> None:
    """An unwanted event recorded during the window fails as it arrives."""
    store.record(scenario.correlation_id, *chain("order.created", "payment.initiated"))
    store.after_reads(
        2, lambda: store.record(scenario.correlation_id, event("payment.failed", 3, 100))
    )
    started = time.monotonic()
    with pytest.raises(WaitAborted, match=r"payment.failed \(#3\) is in the trace"):
        expect_no_event("payment.failed", during=LONG, trace=store)
    assert time.monotonic() - started < PROMPT


# --------------------------------------------------------------------------------------
# Correlation, names, timeline details
# --------------------------------------------------------------------------------------


def test_only_the_scenarios_correlation_id_counts(store: MemoryStore, scenario: Scenario) -> None:
    """Events of another correlation id are not the scenario's trace."""
    store.record("someone-else", *chain(*HEALTHY_CHAIN))
    with pytest.raises(WaitTimeout):
        expect_chain(HEALTHY_CHAIN, trace=store, timeout=0.1)
    expect_chain(HEALTHY_CHAIN, trace=store, correlation_id="someone-else")


def test_a_registered_name_describes_the_wait(store: MemoryStore, scenario: Scenario) -> None:
    """Checks name a registered trace by its phrase, which describes the wait."""
    register_trace_store("the trace for this order", store)
    store.record(scenario.correlation_id, *chain("payment.completed", "order.created"))
    with pytest.raises(WaitAborted) as raised:
        expect_chain(["order.created", "payment.completed"], trace="the trace for this order")
    assert failure(raised)[0] == (
        "Waited for: the trace for this order contains, in order: order.created, payment.completed"
    )


def test_the_timeline_shows_unknown_times_and_is_capped(
    store: MemoryStore, scenario: Scenario
) -> None:
    """Events without a timestamp show "?", and a long trace is cut with a count."""
    events = [event("tick", number) for number in range(1, 71)]
    trace = Trace(scenario.correlation_id, tuple(events), "sequence", "memory")
    lines = render_timeline(trace, Before("a", "b").evaluate(trace), ["a", "b"])
    assert " ".join(lines[1].split()) == "? #1 tests tick 1 a <- missing"
    assert lines[-1].strip() == "... 10 more events"
    assert len(lines) == 62


def test_expectations_reject_empty_event_names() -> None:
    """An empty event type is an input error naming the check."""
    with pytest.raises(InvalidInput, match="An in-order check needs event types"):
        InOrder(["order.created", " "])
    with pytest.raises(InvalidInput, match="An in-order check needs event types"):
        InOrder([])
