"""Trace checks: wait until a trace holds the events a step names, then judge it.

::

    expect_chain(["order.created", "payment.completed", "notification.sent"], timeout=15)
    expect_chain([...], exactly=True, trace="the trace for this order")
    expect_before("payment.completed", "shipping.label_created")
    expect_within_after("notification.sent", "payment.completed", within=2)
    expect_exactly_once("payment.completed")
    expect_no_event("payment.failed", during=2)
    expect_trace(Before("payment.completed", "shipping.label_created"), timeout=15)
    expect_trace_stays(Absent("payment.failed"), during=2)

Each reads the trace with the poll engine (:func:`asyncbdd.wait.wait_until`) until the
evidence is complete -- every event the check names is in the trace -- and judges it
then: a trace that is complete but wrong (out of order, too slow) fails at once, and
one still incomplete at the deadline fails listing what is missing. Stores that learn
of new events (a topic) wake the wait as they arrive; others are polled, fast at first.

Each check blocks the calling thread; :mod:`asyncbdd.aio` has its awaitable twin, with
the same arguments, messages and deadlines (the plan of ``expect_x`` is
``expect_x_plan``). Awaited, a check never blocks the loop: the trace is read in a
worker thread of the wait, a polled store is paused on a timer, a
:class:`WakingTraceStore` wakes the task as events arrive, and any other store's own
:meth:`~asyncbdd.traces.store.TraceStore.pause` runs in a worker thread.

``trace`` is a registered name ("the trace for this order"), a store, or ``None`` for
the only store there is. The events are those of the running scenario's correlation id,
unless the name or ``correlation_id`` gives another.

``exactly`` checks (:func:`expect_chain` with ``exactly``, :func:`expect_exactly_once`)
keep watching for ``grace`` seconds once they pass (default: setting ``asyncbdd.grace``),
and fail if an extra event arrives then: "exactly" means no more came within that window.

A failure's message states what was awaited in the step's words, the deadline, elapsed
time and attempts, the trace as it grew, and the timeline of the events with missing,
duplicate and out-of-order entries marked beside the expected events.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from asyncbdd import waiting
from asyncbdd.config import get_settings
from asyncbdd.deprecation import deprecated, renamed_keywords
from asyncbdd.drivers import Blocking, Command, Pause, Plan, blocking, relay, run
from asyncbdd.durations import format_duration, to_seconds
from asyncbdd.errors import hide_failure_frames
from asyncbdd.evidence.model import TraceTimeline
from asyncbdd.scenario import current_scenario
from asyncbdd.traces.event import TraceEvent
from asyncbdd.traces.expectations import (
    Absent,
    Before,
    ExactlyOnce,
    InOrder,
    TraceExpectation,
    Verdict,
    WithinAfter,
)
from asyncbdd.traces.names import resolve_trace
from asyncbdd.traces.store import TraceStore
from asyncbdd.traces.timeline import trace_timeline
from asyncbdd.traces.trace import Trace, read_trace
from asyncbdd.tripwires import Tripwire, current_tripwires
from asyncbdd.wait import Seconds, WaitState

__all__ = [
    "TraceTarget",
    "WakingTraceStore",
    "expect_before",
    "expect_before_plan",
    "expect_chain",
    "expect_chain_plan",
    "expect_exactly_once",
    "expect_exactly_once_plan",
    "expect_no_event",
    "expect_no_event_plan",
    "expect_trace",
    "expect_trace_plan",
    "expect_trace_stays",
    "expect_trace_stays_plan",
    "expect_within_after",
    "expect_within_after_plan",
    "fail_at_once_if_event",
    "store_pause_plan",
]

__tracebackhide__ = hide_failure_frames

T = TypeVar("T")

TraceTarget = str | TraceStore | None
"""A trace as the checks accept it: a registered name, a store, or ``None`` (the only one)."""


class WakingTraceStore(TraceStore):
    """A trace store that learns when something it reads arrives, through
    :class:`~asyncbdd.signals.Changes`: between reads, a trace check carries out its
    :meth:`pause_plan`, so that an arrival wakes a waiting thread and a waiting task alike.
    """

    @abstractmethod
    def pause_plan(self, seconds: float) -> Plan[None]:
        """Let up to ``seconds`` pass, ending early when something arrives: a plan that
        yields :class:`~asyncbdd.drivers.Until` (or other commands) for a driver."""

    def pause(self, seconds: float) -> None:
        """:meth:`pause_plan`, carried out in this thread."""
        run(self.pause_plan(seconds))


def store_pause_plan(store: TraceStore, seconds: float) -> Plan[None]:
    """Let up to ``seconds`` pass before ``store`` is read again, as the store allows.

    A :class:`WakingTraceStore` is woken by arrivals (its :meth:`~WakingTraceStore.
    pause_plan`); a store that can only be polled (it keeps
    :meth:`TraceStore.pause <asyncbdd.traces.store.TraceStore.pause>`) pauses on a timer
    that a tripwire of the scenario ends; any other store's own ``pause`` may block, so
    the asyncio driver runs it in a worker thread.
    """
    if isinstance(store, WakingTraceStore):
        yield from store.pause_plan(seconds)
    elif type(store).pause is TraceStore.pause:
        yield Pause(seconds, current_tripwires())
    else:
        yield Blocking(lambda: store.pause(seconds))


def expect_trace_plan(
    expectation: TraceExpectation,
    *,
    trace: TraceTarget = None,
    timeout: Seconds | None = None,
    grace: Seconds | None = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Wait until the trace meets ``expectation``; return the trace that did.

    :param timeout: the deadline for the evidence to be complete; default: setting
        ``asyncbdd.timeout``.
    :param grace: for an ``exact`` expectation, how long to watch for a late extra event
        once it passes; default: setting ``asyncbdd.grace``.
    :param order_by: ``"sequence"`` or ``"timestamp"``; default: the store's, then the
        setting ``asyncbdd.traces.order_by``.
    :param description: what is awaited, in the step's words.
    :raises WaitAborted: the evidence was complete and the trace fails the expectation,
        or an extra event arrived within the grace window.
    :raises WaitTimeout: the evidence was still incomplete at the deadline.
    """
    reader = _Reader(trace, correlation_id, order_by, expectation, description)
    evidence: _Evidence = yield from reader.pausing(
        waiting.wait_until(
            reader.read,
            _complete_and_met,
            timeout=timeout,
            fail_if=_failure,
            description=reader.description,
            on_timeout=reader.explain(),
            sleep=reader.pause,
        )
    )
    window = get_settings().grace if grace is None else to_seconds(grace)
    if expectation.exact and window > 0:
        evidence = yield from reader.pausing(
            waiting.wait_stays(
                reader.read,
                _anything,
                during=window,
                fail_if=_late_failure(window),
                description=reader.description,
                on_timeout=reader.explain(
                    f"the trace met the expectation; it was then watched for the "
                    f"{format_duration(window)} grace window (setting asyncbdd.grace)"
                ),
                sleep=reader.pause,
            )
        )
    return evidence.trace


expect_trace = blocking(expect_trace_plan)


def expect_trace_stays_plan(
    expectation: TraceExpectation,
    *,
    during: Seconds,
    trace: TraceTarget = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Check that the trace meets ``expectation`` now and throughout ``during``; return
    the trace last read.

    ``during`` is a window the trace must stay good for, not a deadline: the timeout
    scale does not stretch it. Fails at the first read that fails the expectation.
    """
    reader = _Reader(trace, correlation_id, order_by, expectation, description)
    evidence: _Evidence = yield from reader.pausing(
        waiting.wait_stays(
            reader.read,
            _anything,
            during=during,
            fail_if=_failure,
            description=reader.description,
            on_timeout=reader.explain(),
            sleep=reader.pause,
        )
    )
    return evidence.trace


expect_trace_stays = blocking(expect_trace_stays_plan)


def expect_chain_plan(
    events: Sequence[str],
    *,
    exactly: bool = False,
    trace: TraceTarget = None,
    timeout: Seconds | None = None,
    grace: Seconds | None = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Wait until the trace holds ``events`` in this order (others may come in between).

    With ``exactly``, the trace must be exactly this chain: no other event, none twice,
    also within the grace window after it is complete. See :func:`expect_trace`.
    """
    found: Trace = yield from expect_trace_plan(
        InOrder(events, exactly=exactly),
        trace=trace,
        timeout=timeout,
        grace=grace,
        correlation_id=correlation_id,
        order_by=order_by,
        description=description,
    )
    return found


expect_chain = blocking(expect_chain_plan)


def expect_before_plan(
    first: str,
    second: str,
    *,
    trace: TraceTarget = None,
    timeout: Seconds | None = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Wait until both events are in the trace; the first ``first`` must precede the
    first ``second``."""
    found: Trace = yield from expect_trace_plan(
        Before(first, second),
        trace=trace,
        timeout=timeout,
        correlation_id=correlation_id,
        order_by=order_by,
        description=description,
    )
    return found


expect_before = blocking(expect_before_plan)


def expect_within_after_plan(
    event: str,
    after: str,
    within: Seconds,
    *,
    trace: TraceTarget = None,
    timeout: Seconds | None = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Wait until both events are in the trace; the first ``event`` must follow the
    first ``after``, and its timestamp be at most ``within`` later."""
    found: Trace = yield from expect_trace_plan(
        WithinAfter(event, after, within),
        trace=trace,
        timeout=timeout,
        correlation_id=correlation_id,
        order_by=order_by,
        description=description,
    )
    return found


expect_within_after = blocking(expect_within_after_plan)


def expect_exactly_once_plan(
    event: str,
    *,
    trace: TraceTarget = None,
    timeout: Seconds | None = None,
    grace: Seconds | None = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Wait until ``event`` is in the trace; a second one, then or within the grace
    window, fails."""
    found: Trace = yield from expect_trace_plan(
        ExactlyOnce(event),
        trace=trace,
        timeout=timeout,
        grace=grace,
        correlation_id=correlation_id,
        order_by=order_by,
        description=description,
    )
    return found


expect_exactly_once = blocking(expect_exactly_once_plan)


def expect_no_event_plan(
    event: str,
    *,
    during: Seconds,
    trace: TraceTarget = None,
    correlation_id: str | None = None,
    order_by: str | None = None,
    description: str | None = None,
) -> Plan[Trace]:
    """Check that ``event`` is not in the trace now, nor appears during ``during``;
    return the trace last read."""
    found: Trace = yield from expect_trace_stays_plan(
        Absent(event),
        during=during,
        trace=trace,
        correlation_id=correlation_id,
        order_by=order_by,
        description=description,
    )
    return found


expect_no_event = renamed_keywords({"within": "during"})(blocking(expect_no_event_plan))


wait_for_trace = deprecated("wait_for_trace", expect_trace)
watch_trace = deprecated(
    "watch_trace", expect_trace_stays, renamed={"within": "during"}, positional=("during",)
)


def fail_at_once_if_event(
    event: str, *, trace: TraceTarget = None, correlation_id: str | None = None
) -> Tripwire:
    """Set a tripwire: every later wait of the scenario fails at once when ``event``
    appears in the trace (``payment.failed``). The trace store is resolved now."""
    reader = _Reader(trace, correlation_id, None, Absent(event), None)

    def found() -> list[TraceEvent]:
        trace = read_trace(reader.store, reader.correlation_id)
        return [found for found in trace.events if found.type == event]

    tripwire = Tripwire(
        f'"{event}" occurs in {reader.name}',
        found,
        bool,
        lambda events: str(events[0]) if isinstance(events, list) and events else "nothing",
    )
    current_scenario().tripwires.add(tripwire)
    return tripwire


# --------------------------------------------------------------------------------------
# Private: reading, judging, explaining
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Evidence:
    """A trace read once, and the verdict on it: the value a trace wait observes."""

    trace: Trace
    verdict: Verdict

    def __repr__(self) -> str:
        return repr(self.trace)


class _Reader:
    """Reads one trace for one expectation, and explains a failure."""

    def __init__(
        self,
        target: TraceTarget,
        correlation_id: str | None,
        order_by: str | None,
        expectation: TraceExpectation,
        description: str | None,
    ) -> None:
        if isinstance(target, TraceStore):
            self.store, name, named_id = target, f"the trace in {target.describe()}", None
        else:
            resolved = resolve_trace(target)
            self.store, name, named_id = resolved.store, resolved.name, resolved.correlation_id
        self.name = name
        self.correlation_id = correlation_id or named_id or current_scenario().correlation_id
        self.order_by = order_by
        self.expectation = expectation
        words = str(expectation)
        default = f"in {name}, {words}" if words.startswith('"') else f"{name} {words}"
        self.description = description or default
        self.pause: Callable[[float], None] = self.store.pause
        """The ``sleep`` a wait is given: :meth:`pausing` knows its pauses by it."""

    def read(self) -> _Evidence:
        trace = read_trace(self.store, self.correlation_id, order_by=self.order_by)
        return _Evidence(trace, self.expectation.evaluate(trace))

    def pausing(self, plan: Plan[T]) -> Plan[T]:
        """``plan``, with each pause it asks of :attr:`pause` carried out as the store
        allows (:func:`store_pause_plan`) rather than by a driver calling it: on an event
        loop a blocking ``pause`` would stall every task."""

        def substitute(command: Command) -> Plan[None] | None:
            if isinstance(command, Pause) and command.sleep is self.pause:
                return store_pause_plan(self.store, command.seconds)
            return None

        return relay(plan, substitute)

    def explain(self, note: str | None = None) -> Callable[[WaitState[Any]], TraceTimeline | None]:
        def explain(state: WaitState[Any]) -> TraceTimeline | None:
            if not isinstance(state.last_value, _Evidence):
                return None
            evidence = state.last_value
            trace = evidence.trace
            return trace_timeline(
                trace,
                evidence.verdict,
                self.expectation.expected(),
                notes=[line for line in (evidence.verdict.note, note) if line],
                deadline_ms=_deadline_ms(trace, state),
            )

        return explain


def _deadline_ms(trace: Trace, state: WaitState[Any]) -> float | None:
    """The wait's deadline on the trace's timeline (milliseconds since its earliest
    timestamp), when the trace has timestamps to place it by."""
    started = trace.started
    if started is None:
        return None
    now = datetime.now(started.tzinfo) if started.tzinfo else datetime.now()
    deadline = now + timedelta(seconds=state.timeout - state.elapsed)
    return (deadline - started).total_seconds() * 1000


def _complete_and_met(evidence: _Evidence) -> bool:
    verdict = evidence.verdict
    if not verdict.complete:
        raise AssertionError(verdict.waiting_for or "the trace is not complete")
    return verdict.failure is None


def _failure(evidence: _Evidence) -> str | None:
    return evidence.verdict.failure


def _late_failure(window: float) -> Callable[[_Evidence], str | None]:
    def failure(evidence: _Evidence) -> str | None:
        reason = evidence.verdict.failure
        if reason is None:
            return None
        return f"{reason}, within the {format_duration(window)} grace window after it passed"

    return failure


def _anything(evidence: _Evidence) -> bool:
    return True
