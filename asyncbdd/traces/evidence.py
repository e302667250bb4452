"""One ordered trace across channels: HTTP answers, trace events, webhook calls, messages.

A scenario's story crosses channels: the order is accepted over HTTP, the payment service
records ``payment.completed`` in its trace, the shop's webhook is called, the shipping
queue receives a message. :class:`EvidenceStore` merges what the running scenario has of
each into one trace ordered by time, so that the trace checks judge its order by index,
like any trace's::

    record_evidence("http", "order accepted")       # a step, once POST /api/orders answered
    expect_evidence_in_order(
        [
            ("http", "order accepted"),
            ("trace", "payment.completed"),
            ("webhook", "payment-complete"),
            ("queue", "shipping"),
        ],
        timeout=10,
    )

What each channel brings (its name is the event's service, the timeline's service column):

==========  =============================  ==============================================
Channel     Event type                     Time
==========  =============================  ==============================================
(a kind)    the name it was recorded as    when :func:`record_evidence` was called, or its
                                           ``at``
``trace``   the event's type               the event's timestamp
``webhook`` ``call to <receiver>``         when the capture server had read the call
``queue``   ``message on <alias>``         the broker's timestamp (SQS ``SentTimestamp``,
                                           Kafka record timestamp): when it was sent, not
                                           when asyncbdd got round to reading it; its
                                           arrival time when the broker gives none
==========  =============================  ==============================================

Messages of every alias the scenario's readers delivered, and calls of every receiver it
declared, join the trace, so a failure's timeline shows the whole story; the aliases and
receivers a check names are those it waits for (their readers start on the first read).

**Clocks.** Arrival times (webhook calls, messages without a broker timestamp) are taken
on the monotonic clock; one offset (wall clock minus monotonic clock, taken when the store
is made) turns them into wall-clock time, so their order among themselves is exact.
Trace timestamps and broker timestamps come from the clocks of other machines: events
closer together than the skew between those clocks and this one (milliseconds where NTP
runs) cannot be ordered reliably, and SQS and Kafka timestamps are whole milliseconds.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from asyncbdd.drivers import Pause, Plan, Until, blocking
from asyncbdd.errors import AsyncBddError, ConfigurationError, InvalidInput, UnknownName
from asyncbdd.queues.aliases import queue_named
from asyncbdd.queues.inbox import inbox, start_reader
from asyncbdd.queues.message import Message
from asyncbdd.scenario import Scenario, Slot, current_scenario
from asyncbdd.traces.checks import WakingTraceStore, expect_trace_plan, store_pause_plan
from asyncbdd.traces.event import TraceEvent, make_event
from asyncbdd.traces.expectations import InOrder
from asyncbdd.traces.names import resolve_trace
from asyncbdd.traces.store import TraceStore
from asyncbdd.traces.trace import Trace
from asyncbdd.tripwires import current_tripwires
from asyncbdd.wait import Seconds
from asyncbdd.webhooks.call import Call
from asyncbdd.webhooks.receivers import HOW_TO_DECLARE, captures

__all__ = [
    "CHANNELS",
    "EvidenceStore",
    "evidence_type",
    "expect_evidence_in_order",
    "expect_evidence_in_order_plan",
    "record_evidence",
    "recorded_evidence",
]

CHANNELS = ("trace", "webhook", "queue", "topic")
"""The channels asyncbdd reads itself; ``topic`` is another word for ``queue``."""

MESSAGE_TIMES = ("sent", "received")
"""When a message counts as happening: the broker's timestamp, or when it was read."""


def record_evidence(
    kind: str,
    name: str,
    *,
    at: datetime | float | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> TraceEvent:
    """Record that ``name`` happened on channel ``kind`` in the running scenario.

    For what only a step sees, such as an HTTP answer: a step that placed an order calls
    ``record_evidence("http", "order accepted")`` once the answer is in, and a later
    cross-channel check can name it (``| http | order accepted |``). ``at`` is when it
    happened (an aware datetime, or seconds since the epoch); default: now.

    :raises InvalidInput: ``kind`` or ``name`` is empty, or ``kind`` is a channel asyncbdd
        reads itself (:data:`CHANNELS`).
    """
    channel = " ".join(str(kind).split()).lower()
    if not channel or channel in CHANNELS:
        raise InvalidInput(
            f"Evidence is recorded under a kind of its own, such as 'http'; {kind!r} "
            + ("is empty." if not channel else "is a channel asyncbdd reads itself.")
        )
    if not str(name).strip():
        raise InvalidInput(f"Evidence of kind {channel!r} needs a name, such as 'order accepted'.")
    event = make_event(
        type=name,
        service=channel,
        timestamp=time.time() if at is None else at,
        attributes=dict(attributes or {}),
        source=f"recorded {channel} evidence",
    )
    with _lock:  # made under the lock too, so two threads of a scenario share one list
        _RECORDED.current().append(event)
    return event


def recorded_evidence(scenario: Scenario | None = None) -> list[TraceEvent]:
    """The evidence recorded in ``scenario`` (default: the running one), oldest first."""
    state = scenario or current_scenario()
    with _lock:
        return list(_RECORDED.peek(state) or ())


def evidence_type(channel: str, name: str) -> str:
    """The event type in an :class:`EvidenceStore` of ``name`` on ``channel``:
    ``message on shipping``, ``call to payment-complete``, or ``name`` itself."""
    channel = channel.strip().lower()
    name = name.strip()
    if channel in ("queue", "topic"):
        return f"message on {name}"
    if channel == "webhook":
        return f"call to {name}"
    return name


class EvidenceStore(WakingTraceStore):
    """The running scenario's evidence from every channel, as one trace ordered by time.

    :param trace: a trace store, or a registered trace name, whose events of the
        correlation id join the evidence; ``None``: no trace events.
    :param queues: queue or topic aliases a check waits for: each is read (its reader
        started) from the first read on, and wakes a waiting check as messages arrive.
    :param receivers: webhook receivers a check waits for: each must be declared in the
        scenario, and wakes a waiting check as calls arrive (when no queue is named).
    :param message_time: ``"sent"`` (the broker's timestamp, or the arrival time where
        there is none) or ``"received"`` (when asyncbdd read the message).
    :raises InvalidInput: ``message_time`` is neither.
    :raises UnknownName: an alias or a trace name is not registered.
    """

    order_by = "timestamp"

    def __init__(
        self,
        *,
        trace: TraceStore | str | None = None,
        queues: Sequence[str] = (),
        receivers: Sequence[str] = (),
        message_time: str = "sent",
    ) -> None:
        if message_time not in MESSAGE_TIMES:
            raise InvalidInput(
                f"message_time is 'sent' (the broker's timestamp) or 'received' (when "
                f"asyncbdd read the message), not {message_time!r}."
            )
        if isinstance(trace, str):
            resolved = resolve_trace(trace)
            self.trace: TraceStore | None = resolved.store
            self._trace_id = resolved.correlation_id
        else:
            self.trace, self._trace_id = trace, None
        self.queues = list(dict.fromkeys(queues))
        for alias in self.queues:
            queue_named(alias)  # an unknown alias fails now, not at the first read
        self.receivers = list(dict.fromkeys(receivers))
        self.message_time = message_time
        self.offset = time.time() - time.monotonic()
        """Seconds from the monotonic clock to the wall clock, taken once."""
        self._seen = (0, 0)
        """(messages, calls) at the last read, for :meth:`pause`."""

    def events(self, correlation_id: str) -> list[TraceEvent]:
        """The scenario's recorded evidence, trace events, webhook calls and messages.

        :raises InvalidInput: ``correlation_id`` is not the running scenario's, or two
            channels bring events of the same type.
        :raises ConfigurationError: a trace event has no timestamp.
        """
        scenario = current_scenario()
        if correlation_id != scenario.correlation_id:
            raise InvalidInput(
                f"{self.describe()} holds the evidence of the running scenario (correlation "
                f"id {scenario.correlation_id}), not of {correlation_id}."
            )
        messages, calls = self._messages(), self._calls()
        self._seen = (len(messages), len(calls))
        found = recorded_evidence(scenario) + self._trace_events(correlation_id) + calls
        found += messages
        _check_distinct(found)
        return found

    def describe(self) -> str:
        parts = ["recorded evidence", "webhook calls", "queue messages"]
        if self.trace is not None:
            parts.append(f"trace events in {self.trace.describe()}")
        return "this scenario's " + ", ".join(parts[:-1]) + f" and {parts[-1]}"

    def pause_plan(self, seconds: float) -> Plan[None]:
        """Wait up to ``seconds``, returning early when a named queue or receiver gets
        something (queues first); with neither, as the trace store waits. A tripwire of
        the scenario ends the wait too."""
        messages, calls = self._seen
        until, tripwires = time.monotonic() + max(seconds, 0.0), current_tripwires()
        if self.queues:
            box = inbox()
            yield Until(
                box.changed,
                lambda: (
                    _count(box.messages) != messages
                    or any(alias in box.errors for alias in self.queues)
                ),
                until,
                tripwires,
            )
        elif self.receivers:
            hooks = captures()
            yield Until(
                hooks.changed,
                lambda: (
                    _count(hooks.calls) != calls
                    or any(name in hooks.errors for name in self.receivers)
                ),
                until,
                tripwires,
            )
        elif self.trace is not None:
            yield from store_pause_plan(self.trace, seconds)
        else:
            yield Pause(seconds, tripwires)

    # ----------------------------------------------------------------------------------

    def _trace_events(self, correlation_id: str) -> list[TraceEvent]:
        if self.trace is None:
            return []
        events = self.trace.events(self._trace_id or correlation_id)
        lacking = next((event for event in events if event.timestamp is None), None)
        if lacking is not None:
            raise ConfigurationError(
                f"The trace event {lacking.type} from {lacking.source or self.trace.describe()}"
                " has no timestamp, so it cannot be placed among the scenario's other "
                "evidence. A check across channels needs a trace store that records when "
                "each event happened."
            )
        return [dataclasses.replace(event, service="trace", sequence=None) for event in events]

    def _messages(self) -> list[TraceEvent]:
        for alias in self.queues:
            start_reader(queue_named(alias))  # at once if it reads already
        box = inbox()
        with box.changed:
            delivered = {alias: list(found) for alias, found in box.messages.items()}
            errors = {alias: box.errors[alias] for alias in self.queues if alias in box.errors}
        for alias, error in errors.items():
            if isinstance(error, AsyncBddError):
                raise error
            raise AsyncBddError(f"Reading the {alias} queue failed: {error!r}") from error
        return [self._message_event(message) for found in delivered.values() for message in found]

    def _calls(self) -> list[TraceEvent]:
        _check_declared(self.receivers)
        hooks = captures()
        with hooks.changed:
            received = {name: list(found) for name, found in hooks.calls.items()}
            errors = [hooks.errors[name] for name in self.receivers if name in hooks.errors]
        if errors:
            raise errors[0]
        return [
            self._call_event(name, number, call)
            for name, found in received.items()
            for number, call in enumerate(found, 1)
        ]

    def _message_event(self, message: Message) -> TraceEvent:
        sent = self.message_time == "sent" and message.sent_at is not None
        return make_event(
            type=evidence_type("queue", message.queue),
            service="queue",
            timestamp=message.sent_at if sent else message.received_at + self.offset,
            attributes=message.json if isinstance(message.json, dict) else None,
            source=f"{message.queue} message {message.message_id}".rstrip(),
        )

    def _call_event(self, receiver: str, number: int, call: Call) -> TraceEvent:
        return make_event(
            type=evidence_type("webhook", receiver),
            service="webhook",
            timestamp=call.received_at + self.offset,
            attributes=call.json if isinstance(call.json, dict) else None,
            source=f"call {number} to webhook receiver {receiver}",
        )


def expect_evidence_in_order_plan(
    evidence: Sequence[tuple[str, str]],
    *,
    trace: TraceStore | str | None = None,
    timeout: Seconds | None = None,
    message_time: str = "sent",
    description: str | None = None,
) -> Plan[Trace]:
    """Wait until the scenario has every ``(channel, name)`` of ``evidence``; they must
    have happened in this order (other events may come between).

    A channel is ``trace`` (name: an event type), ``webhook`` (a receiver), ``queue`` or
    ``topic`` (an alias), or a kind a step recorded (:func:`record_evidence`). Fails at
    once when every one is there but out of order; see
    :func:`~asyncbdd.traces.checks.expect_trace`.

    :param trace: the trace of ``trace`` rows: a store or a registered name; default: the
        only one there is.
    :raises InvalidInput: a row is empty, or names a channel that is neither read by
        asyncbdd nor recorded in the scenario.
    :raises UnknownName: a queue alias, webhook receiver or trace is not known.
    """
    rows = [(" ".join(channel.split()).lower(), name.strip()) for channel, name in evidence]
    if not rows or not all(channel and name for channel, name in rows):
        raise InvalidInput(
            "A check across channels needs (channel, name) pairs, none of them empty; got "
            f"{list(evidence)!r}."
        )
    kinds = {event.service for event in recorded_evidence()}
    unknown = [channel for channel, _ in rows if channel not in CHANNELS and channel not in kinds]
    if unknown:
        recorded = f" (recorded: {', '.join(sorted(map(str, kinds)))})" if kinds else ""
        raise InvalidInput(
            f"No evidence of kind {unknown[0]!r} was recorded in this scenario{recorded}. A "
            "channel is trace, webhook, queue or topic, or a kind a step recorded with "
            "asyncbdd.traces.record_evidence(kind, name)."
        )
    store = EvidenceStore(
        trace=_trace_of(trace) if any(channel == "trace" for channel, _ in rows) else None,
        queues=[name for channel, name in rows if channel in ("queue", "topic")],
        receivers=[name for channel, name in rows if channel == "webhook"],
        message_time=message_time,
    )
    _check_declared(store.receivers)  # fails now rather than at the first read
    expected = [evidence_type(channel, name) for channel, name in rows]
    found: Trace = yield from expect_trace_plan(
        InOrder(expected),
        trace=store,
        timeout=timeout,
        description=description or "these happen in order: " + ", ".join(expected),
    )
    return found


expect_evidence_in_order = blocking(expect_evidence_in_order_plan)


# --------------------------------------------------------------------------------------


def _trace_of(trace: TraceStore | str | None) -> TraceStore | str:
    return resolve_trace().name if trace is None else trace


def _check_declared(receivers: Sequence[str]) -> None:
    """Each of ``receivers`` is declared in the running scenario."""
    hooks = captures()
    with hooks.changed:
        declared = list(hooks.receivers)
    for name in receivers:
        if name not in declared:
            raise UnknownName("webhook receiver", name, declared, HOW_TO_DECLARE)


def _check_distinct(events: Sequence[TraceEvent]) -> None:
    """Each event type comes from one channel, or a check could not tell them apart."""
    channels: dict[str, str | None] = {}
    for event in events:
        other = channels.setdefault(event.type, event.service)
        if other != event.service:
            raise InvalidInput(
                f"Both {other} and {event.service} have an event {event.type!r}, so a check "
                "across channels cannot tell them apart. Record evidence under a name no "
                "trace event has (such as 'order accepted')."
            )


def _count(arrived: Mapping[str, Sequence[object]]) -> int:
    return sum(len(found) for found in arrived.values())


_RECORDED: Slot[list[TraceEvent]] = Slot("recorded evidence", lambda scenario: [])
"""The evidence recorded in a scenario, oldest first."""
_lock = threading.Lock()
