"""Evidence across channels: the merged, time-ordered trace and the check of its order.

Webhook calls and queue messages are put into the scenario's captures and inbox as the
capture server and the queue readers would put them, each at a time the test chooses,
so the order is known exactly; a message that arrives while a check waits comes through
a queue reader, from a thread that starts once the check has read the evidence.
"""

from __future__ import annotations

import queue
import re
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from behave.model import Row, Table
from trace_fakes import MemoryStore, event

import asyncbdd
from asyncbdd.errors import ConfigurationError, InvalidInput, UnknownName, WaitAborted, WaitTimeout
from asyncbdd.queues import Message, Queue, close_readers, inbox, register_queue, unregister_queue
from asyncbdd.scenario import Scenario
from asyncbdd.steps.trace_steps import (
    step_these_happen_in_order,
    step_within_these_happen_in_order,
)
from asyncbdd.traces import (
    EvidenceStore,
    TraceEvent,
    evidence_type,
    expect_evidence_in_order,
    read_trace,
    record_evidence,
    recorded_evidence,
    register_trace_store,
)
from asyncbdd.webhooks import Call, captures, stop_webhook_server, webhook_receiver

LONG = 30.0
"""A deadline no passing check, and no check that fails early, comes near."""
PROMPT = 5.0
"""What "at once" means here: far below LONG, far above any scheduling delay."""
BASE = float(int(time.time()) - 10)
"""Time zero of the tests' evidence: a whole second of the wall clock, safely past."""

ROWS = [
    ("http", "order accepted"),
    ("trace", "payment.completed"),
    ("webhook", "payment-complete"),
    ("queue", "shipping"),
]


class MemoryQueue(Queue):
    """A queue whose reader receives the messages a test hands it, the moment it does."""

    kind = "memory queue"

    def __init__(self, alias: str) -> None:
        super().__init__(alias)
        self.waiting: queue.Queue[Message] = queue.Queue()

    def describe(self) -> str:
        return f"memory queue {self.alias!r}"

    def open(self) -> None:
        return

    def receive(self, wait: float) -> list[Message]:
        try:
            return [self.waiting.get(timeout=wait)]
        except queue.Empty:
            return []

    def send(self, body: str, *, attributes: Mapping[str, str], key: str | None = None) -> None:
        raise NotImplementedError("the tests hand messages to the reader directly")


@pytest.fixture(scope="module", autouse=True)
def stop_readers_and_server() -> Iterator[None]:
    """The queue readers and the capture server the tests started stop after them."""
    yield
    close_readers()
    stop_webhook_server()


@pytest.fixture
def shipping() -> Iterator[tuple[str, MemoryQueue]]:
    """A queue alias of the test's own (its reader outlives the test), and its queue."""
    alias = f"shipping-{uuid.uuid4().hex[:8]}"
    memory = MemoryQueue(alias)
    register_queue(alias, memory)
    yield alias, memory
    unregister_queue(alias)


def at(ms: float) -> float:
    """Seconds since the epoch, ``ms`` milliseconds after time zero."""
    return BASE + ms / 1000


def trace_event(kind: str, ms: float, sequence: int) -> TraceEvent:
    """A trace event ``ms`` milliseconds after time zero."""
    found = event(kind, sequence)
    return TraceEvent(
        type=found.type,
        service=found.service,
        timestamp=datetime.fromtimestamp(at(ms), timezone.utc),
        sequence=sequence,
        source=found.source,
    )


def add_call(receiver: str, ms: float, offset: float) -> None:
    """A call to ``receiver`` as the capture server records it, arrived at ``ms``."""
    box = captures()
    with box.changed:
        box.calls[receiver].append(
            Call(
                receiver,
                "POST",
                f"/hooks/{receiver}",
                "",
                (),
                b'{"status": "completed"}',
                received_at=at(ms) - offset,
            )
        )
        box.changed.notify_all()


def add_message(
    alias: str, correlation_id: str, *, sent_ms: float | None, received_ms: float, offset: float
) -> None:
    """A message on ``alias`` as its reader delivers it: sent and read at these times."""
    box = inbox()
    with box.changed:
        box.messages[alias].append(
            message(alias, correlation_id, sent_ms, at(received_ms) - offset)
        )
        box.changed.notify_all()


def message(alias: str, correlation_id: str, sent_ms: float | None, received: float) -> Message:
    """A message on ``alias``, with a broker timestamp ``sent_ms`` after time zero."""
    return Message(
        queue=alias,
        body='{"order_id": "ord-1"}',
        message_id=uuid.uuid4().hex[:8],
        correlation_id=correlation_id,
        sent_at=None if sent_ms is None else at(sent_ms),
        received_at=received,
    )


def story(
    state: Scenario,
    store: MemoryStore,
    alias: str,
    *,
    webhook_ms: float,
    message_ms: float | None,
) -> None:
    """The order accepted at 0 ms and paid at 50 ms; the call and the message (unless
    ``None``) sent when told."""
    offset = time.time() - time.monotonic()
    record_evidence("http", "order accepted", at=at(0))
    store.record(state.correlation_id, trace_event("payment.completed", 50, 3))
    add_call("payment-complete", webhook_ms, offset)
    if message_ms is not None:
        add_message(alias, state.correlation_id, sent_ms=message_ms, received_ms=900, offset=offset)


def lines(error: pytest.ExceptionInfo[AssertionError]) -> list[str]:
    """The failure's message, one line each, runs of spaces shown as one."""
    return [" ".join(line.split()) for line in str(error.value).splitlines()]


def context(state: Scenario, step: str, headings: list[str], *rows: list[str]) -> SimpleNamespace:
    """What behave hands a step: its table, and the scenario's state."""
    state.current_step = step
    table = Table(headings, rows=[Row(headings, cells) for cells in rows])
    return SimpleNamespace(table=table, asyncbdd=state)


# --------------------------------------------------------------------------------------
# Recorded evidence
# --------------------------------------------------------------------------------------


def test_recorded_evidence_belongs_to_its_scenario(scenario: Scenario) -> None:
    """Evidence a step records is kept for the running scenario, with its kind and time."""
    recorded = record_evidence("HTTP", "order accepted", at=at(0), attributes={"status": 202})
    assert recorded.service == "http"
    assert recorded.type == "order accepted"
    assert recorded.timestamp == datetime.fromtimestamp(BASE, timezone.utc)
    assert recorded.attributes == {"status": 202}
    assert recorded_evidence() == [recorded]
    with asyncbdd.scenario("another") as other:
        assert recorded_evidence(other) == []


def test_evidence_is_recorded_now_unless_told_when(scenario: Scenario) -> None:
    """Without ``at``, evidence is recorded at the wall-clock time of the call."""
    before = datetime.now(timezone.utc)
    recorded = record_evidence("http", "order accepted")
    assert recorded.timestamp is not None
    assert before <= recorded.timestamp <= datetime.now(timezone.utc)


@pytest.mark.parametrize(
    ("kind", "name", "says"),
    [
        ("trace", "x", "'trace' is a channel asyncbdd reads itself."),
        ("queue", "x", "'queue' is a channel asyncbdd reads itself."),
        (" ", "x", "' ' is empty."),
        ("http", " ", "Evidence of kind 'http' needs a name"),
    ],
)
def test_evidence_needs_a_kind_of_its_own_and_a_name(
    scenario: Scenario, kind: str, name: str, says: str
) -> None:
    """A kind asyncbdd reads itself, an empty kind or an empty name is refused."""
    with pytest.raises(InvalidInput, match=re.escape(says)):
        record_evidence(kind, name)


def test_event_types_name_the_channel() -> None:
    """Messages and calls are named by their channel; anything else by its own name."""
    assert evidence_type("queue", "shipping") == "message on shipping"
    assert evidence_type("Topic", "order.created") == "message on order.created"
    assert evidence_type("webhook", "payment-complete") == "call to payment-complete"
    assert evidence_type("trace", "payment.completed") == "payment.completed"
    assert evidence_type("http", "order accepted") == "order accepted"


# --------------------------------------------------------------------------------------
# The store
# --------------------------------------------------------------------------------------


def test_the_store_merges_every_channel_in_time_order(
    scenario: Scenario, store: MemoryStore
) -> None:
    """Recorded evidence, trace events, calls and messages become one trace, by time."""
    evidence = EvidenceStore(trace=store)
    offset = evidence.offset
    add_message("billing", scenario.correlation_id, sent_ms=300, received_ms=310, offset=offset)
    add_call("payment-complete", 200, offset)
    store.record(
        scenario.correlation_id, trace_event("order.created", 40, 1), trace_event("x.y", 250, 2)
    )
    record_evidence("http", "order accepted", at=at(0))
    trace = read_trace(evidence, scenario.correlation_id)
    assert trace.order_by == "timestamp"
    assert trace.types == [
        "order accepted",
        "order.created",
        "call to payment-complete",
        "x.y",
        "message on billing",
    ]
    assert [event.service for event in trace.events] == [
        "http",
        "trace",
        "webhook",
        "trace",
        "queue",
    ]
    assert [event.sequence for event in trace.events] == [None] * 5
    assert [round(trace.offset_ms(index) or 0) for index in range(5)] == [0, 40, 200, 250, 300]
    assert trace.events[2].attributes == {"status": "completed"}
    assert trace.events[4].attributes == {"order_id": "ord-1"}


def test_a_message_counts_when_it_was_sent_unless_told_otherwise(scenario: Scenario) -> None:
    """A message is placed at the broker's timestamp; with "received", when it was read;
    without a broker timestamp, when it was read."""
    sent = EvidenceStore()
    add_call("payment-complete", 200, sent.offset)
    add_message(
        "billing", scenario.correlation_id, sent_ms=100, received_ms=900, offset=sent.offset
    )
    add_message("audit", scenario.correlation_id, sent_ms=None, received_ms=150, offset=sent.offset)
    assert read_trace(sent, scenario.correlation_id).types == [
        "message on billing",
        "message on audit",
        "call to payment-complete",
    ]
    received = EvidenceStore(message_time="received")
    assert read_trace(received, scenario.correlation_id).types[-1] == "message on billing"


def test_the_same_event_type_from_two_channels_is_refused(
    scenario: Scenario, store: MemoryStore
) -> None:
    """Evidence named like a trace event could not be told apart from it, so it is refused."""
    record_evidence("http", "payment.completed", at=at(0))
    store.record(scenario.correlation_id, trace_event("payment.completed", 50, 1))
    with pytest.raises(
        InvalidInput, match=re.escape("Both http and trace have an event 'payment.completed'")
    ):
        EvidenceStore(trace=store).events(scenario.correlation_id)


def test_a_trace_event_without_a_timestamp_cannot_be_placed(
    scenario: Scenario, store: MemoryStore
) -> None:
    """A trace event with no timestamp is a configuration error naming it."""
    store.record(scenario.correlation_id, event("payment.completed", 1))
    with pytest.raises(
        ConfigurationError, match=re.escape("payment.completed from memory #1 has no time")
    ):
        EvidenceStore(trace=store).events(scenario.correlation_id)


def test_the_store_holds_the_running_scenarios_evidence_only(scenario: Scenario) -> None:
    """Asking for another correlation id is an error, not an empty trace."""
    with pytest.raises(InvalidInput, match="holds the evidence of the running scenario"):
        EvidenceStore().events("someone-else")


def test_the_store_checks_its_settings_when_made() -> None:
    """An unknown message time or queue alias fails when the store is made."""
    with pytest.raises(InvalidInput, match="message_time is 'sent'"):
        EvidenceStore(message_time="arrived")
    with pytest.raises(UnknownName, match="No queue named 'nowhere'"):
        EvidenceStore(queues=["nowhere"])


# --------------------------------------------------------------------------------------
# The check across channels
# --------------------------------------------------------------------------------------


def test_evidence_in_order_passes_at_once(
    scenario: Scenario, store: MemoryStore, shipping: tuple[str, MemoryQueue]
) -> None:
    """Every row's evidence there, in order: the check passes on its first read."""
    alias, _ = shipping
    webhook_receiver("payment-complete")
    story(scenario, store, alias, webhook_ms=200, message_ms=300)
    rows = [*ROWS[:3], ("queue", alias)]
    trace = expect_evidence_in_order(rows, trace=store, timeout=LONG)
    assert trace.types == [
        "order accepted",
        "payment.completed",
        "call to payment-complete",
        f"message on {alias}",
    ]
    assert store.reads == 1


def test_evidence_in_order_waits_for_a_message_that_arrives_while_it_waits(
    scenario: Scenario, store: MemoryStore, shipping: tuple[str, MemoryQueue]
) -> None:
    """The check waits for the last row's message and returns as its reader delivers it."""
    alias, memory = shipping
    webhook_receiver("payment-complete")
    story(scenario, store, alias, webhook_ms=200, message_ms=None)
    sender = store.after_reads(
        1,
        lambda: memory.waiting.put(message(alias, scenario.correlation_id, None, time.monotonic())),
    )
    started = time.monotonic()
    trace = expect_evidence_in_order([*ROWS[:3], ("queue", alias)], trace=store, timeout=LONG)
    sender.join(PROMPT)
    assert time.monotonic() - started < PROMPT
    assert store.reads >= 2  # the message was not there at the first read
    assert trace.types[-1] == f"message on {alias}"


def test_evidence_out_of_order_fails_at_once_with_the_timeline(
    scenario: Scenario, store: MemoryStore, shipping: tuple[str, MemoryQueue]
) -> None:
    """All rows there, the message before the call: the check fails at once, showing the
    channels in the service column and marking the event out of order."""
    alias, _ = shipping
    webhook_receiver("payment-complete")
    story(scenario, store, alias, webhook_ms=200, message_ms=100)
    started = time.monotonic()
    with pytest.raises(WaitAborted) as error:
        expect_evidence_in_order([*ROWS[:3], ("queue", alias)], trace=store, timeout=LONG)
    assert time.monotonic() - started < PROMPT
    text = lines(error)
    assert text[1] == (
        f"Failed because the events are out of order: message on {alias} (at +100 ms) came "
        "before call to payment-complete (at +200 ms)."
    )
    timeline = text[text.index("timeline (by timestamp): expected:") + 1 :]
    assert timeline == [
        "+0 ms http order accepted 1 order accepted",
        "+50 ms trace payment.completed 2 payment.completed",
        f"+100 ms queue message on {alias} <- out of order 3 call to payment-complete",
        f"+200 ms webhook call to payment-complete 4 message on {alias}",
    ]
    assert "all 4 expected events were in the trace, so it was checked at once" in text


def test_missing_evidence_times_out_naming_it(
    scenario: Scenario, store: MemoryStore, shipping: tuple[str, MemoryQueue]
) -> None:
    """A row whose evidence never comes fails at the deadline, marked missing."""
    alias, _ = shipping
    webhook_receiver("payment-complete")
    record_evidence("http", "order accepted", at=at(0))
    with pytest.raises(WaitTimeout) as error:
        expect_evidence_in_order([*ROWS[:3], ("queue", alias)], trace=store, timeout=0.2)
    text = lines(error)
    assert text[1] == "Failed because the deadline passed."
    assert (
        f"last assertion: payment.completed, call to payment-complete and message on {alias} "
        "are not in the trace (1 of the 4 expected events are in the trace)"
    ) in text
    assert f"4 message on {alias} <- missing" in text


def test_a_channel_nobody_recorded_is_named_before_waiting(scenario: Scenario) -> None:
    """A row on a channel that is neither read nor recorded fails at once, listing the
    recorded kinds."""
    record_evidence("http", "order accepted", at=at(0))
    with pytest.raises(InvalidInput, match=r"No evidence of kind 'htp' .*\(recorded: http\)"):
        expect_evidence_in_order([("htp", "order accepted")], timeout=LONG)


def test_an_undeclared_receiver_and_an_unknown_queue_fail_before_waiting(
    scenario: Scenario,
) -> None:
    """Rows naming an undeclared receiver or an unknown alias fail at once, naming them."""
    with pytest.raises(UnknownName, match="No webhook receiver named 'payment-complete'"):
        expect_evidence_in_order([("webhook", "payment-complete")], timeout=LONG)
    with pytest.raises(UnknownName, match="No queue named 'shiping'"):
        expect_evidence_in_order([("queue", "shiping")], timeout=LONG)


# --------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------


def test_the_step_passes_on_evidence_in_order(
    scenario: Scenario, store: MemoryStore, shipping: tuple[str, MemoryQueue]
) -> None:
    """ "these happen in order" reads | channel | event | rows, each on its channel."""
    alias, _ = shipping
    webhook_receiver("payment-complete")
    story(scenario, store, alias, webhook_ms=200, message_ms=300)
    register_trace_store("the trace", store)
    step_these_happen_in_order(
        context(
            scenario,
            "Then these happen in order:",
            ["channel", "event"],
            ["http", "order accepted"],
            ["trace", "payment.completed"],
            ["webhook", "payment-complete"],
            ["queue", alias],
        )
    )


def test_the_step_fails_on_evidence_out_of_order_in_its_words(
    scenario: Scenario, store: MemoryStore, shipping: tuple[str, MemoryQueue]
) -> None:
    """The step's failure names the step, then says which event came out of order."""
    alias, _ = shipping
    webhook_receiver("payment-complete")
    story(scenario, store, alias, webhook_ms=200, message_ms=100)
    step = "Then within 30 seconds these happen in order:"
    rows = [["http", "order accepted"], ["webhook", "payment-complete"], ["queue", alias]]
    register_trace_store("the trace", store)
    with pytest.raises(WaitAborted) as error:
        step_within_these_happen_in_order(
            context(scenario, step, ["channel", "event"], *rows), LONG
        )
    assert lines(error)[:2] == [
        f"Waited for: {step}",
        f"Failed because the events are out of order: message on {alias} (at +100 ms) came "
        "before call to payment-complete (at +200 ms).",
    ]


def test_the_step_needs_a_channel_and_an_event_column(scenario: Scenario) -> None:
    """A table with other columns is refused, naming the columns it needs."""
    with pytest.raises(InvalidInput, match=r"two columns, \| channel \| event \|"):
        step_these_happen_in_order(
            context(scenario, "Then these happen in order:", ["event_type"], ["order.created"])
        )
