"""Waiting for things that arrive by themselves (queue messages, webhook calls), and
explaining what did arrive when a wait fails.

Whatever receives them (a queue reader, the webhook server) appends each arrival to a
per-scenario list and notifies a condition variable. A :class:`Watch` waits on that
condition and matches only what arrived since its last look, so a wait returns the moment
it holds and never polls. The two waits every pattern shares:

* :func:`expect_count` (plan: :func:`count_plan`): ``count`` arrivals on each channel
  within the deadline; "exactly"
  adds that no further one arrives within the grace window after the ``count``-th;
* :func:`expect_none` (plan: :func:`none_plan`): nothing arrives during a window;
  fails at the first arrival.

Pattern modules ``yield from`` the plans, so their waits have a blocking and an awaitable
form (:mod:`asyncbdd.drivers`).

A channel is one place things arrive (a queue alias, a webhook receiver), described by a
:class:`Channel`. A failed wait raises :class:`~asyncbdd.errors.WaitTimeout`, laid out
the same way whatever arrives::

    Waited for: Then within 1 second the billing queue receives 2 messages
    Failed because the deadline passed: the billing queue received 1 of 2.
      deadline:    1 s, elapsed 1.00 s
      billing: SQS queue 'billing' at http://127.0.0.1:5123
        expected:  exactly 2
        received:  1 message of this scenario:
          1.   -120 ms  {"order_id": "ord-1"}
        (the channel's own notes: messages skipped, stray calls)
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, NoReturn, Protocol, TypeVar

from asyncbdd import probe_calls, signals
from asyncbdd.config import get_settings
from asyncbdd.drivers import Plan, Until, blocking
from asyncbdd.durations import format_duration
from asyncbdd.errors import InvalidInput, TripwireTripped, WaitTimeout, hide_failure_frames
from asyncbdd.evidence import text as evidence_text
from asyncbdd.evidence.model import ArrivalEntry, ChannelArrivals, Evidence, Notes, Section
from asyncbdd.evidence.progress import progress_for
from asyncbdd.evidence.record import record_wait
from asyncbdd.signals import Changes
from asyncbdd.tripwires import current_tripwires

__all__ = [
    "MAX_LISTED",
    "Arrival",
    "Channel",
    "Look",
    "Matcher",
    "Watch",
    "check_count",
    "count_plan",
    "expect_count",
    "expect_none",
    "none_plan",
    "ordinal",
    "plural",
    "relative_time",
    "wait_waking",
]

__tracebackhide__ = hide_failure_frames

MAX_LISTED = evidence_text.MAX_LISTED
"""Arrivals listed per channel in a failure; the rest are counted."""
WAKE_EVERY = probe_calls.WAKE_EVERY
"""Longest a waiting thread blocks at once. A signal (Ctrl-C) that arrives just as the
main thread starts to block, or that another thread takes, is handled by Python only when
the main thread wakes: at the latest after this, not when the deadline has passed."""


class Arrival(Protocol):
    """Something that arrived: a message, a webhook call."""

    @property
    def received_at(self) -> float:
        """When it arrived, on the monotonic clock that waits use."""

    def summary(self, limit: int = 160) -> str:
        """One line for a failure report."""


A = TypeVar("A", bound=Arrival)
A_contra = TypeVar("A_contra", contravariant=True)


class Matcher(Protocol[A_contra]):
    """What an arrival must be; ``str()`` describes it ("with amount = 10")."""

    def problems(self, arrival: A_contra, /) -> list[str]:
        """Why ``arrival`` does not match, one line each; empty when it matches."""


class Channel(ABC, Generic[A]):
    """One place things arrive and are counted: a queue alias, a webhook receiver.

    The methods that read what arrived are called with the condition's lock held.
    """

    noun = "message"
    """What arrives here, in the singular: "message", "call"."""
    kind = "channel"
    """What sort of channel it is, as evidence names it: "queue", "webhook"."""

    def __init__(self, key: str, title: str) -> None:
        self.key = key
        """Its name in a failure report's listing (``billing``, ``payment-complete``)."""
        self.title = title
        """Its name in a sentence (``the billing queue``)."""

    @abstractmethod
    def arrived(self) -> Sequence[A]:
        """Everything that arrived on it for the scenario, in arrival order."""

    @abstractmethod
    def describe(self) -> str:
        """Where it lives, after its key in a failure report."""

    def error(self) -> BaseException | None:
        """An error that makes waiting pointless (a broken reader), raised as it is."""
        return None

    def rejection(self) -> str | None:
        """Why the system under test failed any wait on it already, however many arrive."""
        return None

    def trouble(self) -> str | None:
        """Why arrivals may be missing through no fault of the system under test (its
        broker does not answer), if so: a wait goes on (it may answer in time), and one
        that fails leads with it."""
        return None

    def remarks(self, arrival: A) -> list[str]:
        """Lines to show under ``arrival`` in a failure report (how it was answered)."""
        return []

    def notes(self, started: float) -> list[str]:
        """Lines that close its part of a failure report (what was skipped, and why)."""
        return []


@dataclass(frozen=True)
class Look:
    """One look of a wait on arrivals at what arrived, as ``on_look`` listeners see it:
    seconds since the wait began, and how many matching arrivals each channel has."""

    elapsed: float
    matching: Mapping[str, int]


class Watch(Generic[A]):
    """One wait on channels that share a condition: the arrivals of each that match,
    kept up to date incrementally, and the failure report.

    ``what`` is the wait in the step's words; ``expectation`` is the count expected
    ("exactly 2", "none"), ``count`` and ``exactly`` the same as data; ``window`` says
    that ``seconds`` is a window to stay quiet for rather than a deadline. ``notes``
    gives lines that close the report, after every channel's part (stray arrivals that
    belong to no channel). ``on_look`` is called at every look at what arrived: when
    something arrives, and at every wake-up.
    """

    def __init__(
        self,
        changed: Changes,
        channels: Sequence[Channel[A]],
        *,
        where: Matcher[A] | None,
        what: str,
        expectation: str,
        seconds: float,
        window: bool = False,
        notes: Callable[[float], list[str]] | None = None,
        count: int = 0,
        exactly: bool = True,
        on_look: Callable[[Look], object] | None = None,
    ) -> None:
        self.changed, self.channels, self.where = changed, channels, where
        self.what, self.expectation, self.seconds, self.window = what, expectation, seconds, window
        self.count, self.exactly = count, exactly
        self._notes, self.on_look = notes, on_look
        self.started = time.monotonic()
        self.deadline = self.started + seconds
        self.matched: dict[str, list[A]] = {channel.key: [] for channel in channels}
        self._scanned = dict.fromkeys(self.matched, 0)
        self.progress = progress_for(what, seconds)

    def wait_until(self, done: Callable[[dict[str, int]], bool], until: float) -> Plan[None]:
        """Wait until ``done(matching counts per channel)`` or the monotonic time ``until``.

        Raises a channel's :meth:`~Channel.error` at once, and fails at once on its
        :meth:`~Channel.rejection`.
        """

        def ready() -> bool:
            self._scan()
            counts = {key: len(matched) for key, matched in self.matched.items()}
            self._looked(counts)
            return self._interrupted() or done(counts)

        tripwires = current_tripwires()
        yield Until(self.changed, ready, until, tripwires)
        with self.changed:
            errors = [channel.error() for channel in self.channels]
            rejections = [channel.rejection() for channel in self.channels]
        trip = tripwires.trip if tripwires is not None else None
        if trip is not None:
            self.fail(trip.reason(self.started), error_type=TripwireTripped, trip=trip)
        for error in errors:
            if error is not None:
                raise error
        reasons = [reason for reason in rejections if reason is not None]
        if reasons:
            self.fail("; ".join(reasons))

    def fail(
        self, reason: str, *, error_type: type[WaitTimeout] = WaitTimeout, **details: object
    ) -> NoReturn:
        """Raise a :class:`WaitTimeout` (or ``error_type``) showing, per channel, what
        arrived and why it did not count."""
        evidence = self.evidence(reason)
        error = error_type(evidence.to_text(), **details)
        error.evidence = record_wait(evidence)
        raise error

    def passed(self) -> Evidence:
        """Record that the wait passed, with its timing; return its evidence."""
        return record_wait(self.evidence(None))

    def evidence(self, reason: str | None) -> Evidence:
        """What arrived on each channel, as evidence of the wait: failed with ``reason``,
        passed when it is ``None``."""
        elapsed = time.monotonic() - self.started
        scale = 1.0 if self.window else get_settings().timeout_scale  # windows are not scaled
        with self.changed:
            parts = [
                (channel, channel.arrived()[:], channel.notes(self.started))
                for channel in self.channels
            ]
            closing = self._notes(self.started) if self._notes is not None else []
        sections: list[Section] = [
            self._channel_evidence(channel, received, notes) for channel, received, notes in parts
        ]
        if closing:
            sections.append(Notes(tuple(closing)))
        kinds = list(dict.fromkeys(channel.kind for channel in self.channels))
        return Evidence(
            awaited=self.what,
            pattern=kinds[0] if len(kinds) == 1 else "arrivals",
            passed=reason is None,
            timeout=self.seconds,
            elapsed=elapsed,
            reason=reason,
            limit_name="window" if self.window else "deadline",
            scale=scale,
            sections=tuple(sections),
        )

    def _channel_evidence(
        self, channel: Channel[A], received: Sequence[A], notes: Sequence[str]
    ) -> ChannelArrivals:
        where = self.where
        entries = []
        for arrival in received:
            problems = where.problems(arrival) if where is not None else []
            entries.append(
                ArrivalEntry(
                    at=arrival.received_at - self.started,
                    summary=arrival.summary(160),
                    matched=not problems,
                    problems=tuple(problems[:5]),
                    remarks=tuple(channel.remarks(arrival)),
                )
            )
        return ChannelArrivals(
            channel=channel.kind,
            key=channel.key,
            description=channel.describe(),
            noun=channel.noun,
            expectation=f"{self.expectation} {where or ''}".rstrip(),
            expected_count=self.count,
            exactly=self.exactly,
            filtered=where is not None,
            arrivals=tuple(entries),
            notes=tuple(notes),
        )

    def _looked(self, counts: Mapping[str, int]) -> None:
        """Tell the per-look listener and the progress line (called with the lock held)."""
        if self.on_look is None and self.progress is None:
            return
        look = Look(time.monotonic() - self.started, counts)
        if self.on_look is not None:
            self.on_look(look)
        if self.progress is not None:
            self.progress.update(look.elapsed, lambda: self._status(counts))

    def _status(self, counts: Mapping[str, int]) -> str:
        if self.count == 0:
            return "; ".join(f"{key}: {n} matching so far" for key, n in counts.items())
        return "; ".join(f"{key}: {n} of {self.count} matching so far" for key, n in counts.items())

    def _scan(self) -> None:
        """Match only what arrived since the last look (called with the lock held)."""
        for channel in self.channels:
            arrived = channel.arrived()
            for arrival in arrived[self._scanned[channel.key] :]:
                if self.where is None or not self.where.problems(arrival):
                    self.matched[channel.key].append(arrival)
            self._scanned[channel.key] = len(arrived)

    def _interrupted(self) -> bool:
        return any(
            channel.error() is not None or channel.rejection() is not None
            for channel in self.channels
        )


def wait_waking(condition: threading.Condition, ready: Callable[[], bool], until: float) -> bool:
    """``condition.wait_for(ready)`` until the monotonic time ``until``, woken at once when
    a tripwire of the scenario trips (:func:`asyncbdd.signals.wait_waking`). The caller
    holds the condition's lock. Returns whether ``ready()`` held."""
    return signals.wait_waking(condition, ready, until, current_tripwires())


def check_count(count: object, noun: str) -> int:
    """``count`` if it is a number of arrivals (a whole number, 0 or more); else an
    :class:`~asyncbdd.errors.InvalidInput` naming it and the ``noun`` counted."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InvalidInput(
            f"A {noun} count is a whole number, 0 or more; got {count!r}. Write e.g. 2 "
            f"(in a step: '2 {noun}s', 'one {noun}', 'no {noun}s')."
        )
    return count


def count_plan(
    changed: Changes,
    channels: Sequence[Channel[A]],
    count: int,
    *,
    exactly: bool,
    grace: float,
    where: Matcher[A] | None,
    what: str,
    seconds: float,
    notes: Callable[[float], list[str]] | None = None,
    on_look: Callable[[Look], object] | None = None,
) -> Plan[dict[str, list[A]]]:
    """Wait until each channel has ``count`` (at least 1) arrivals matching ``where``.

    With ``exactly``, a further matching arrival within ``grace`` seconds after the
    ``count``-th (the last channel's) fails the wait. Returns the matching arrivals per
    channel key, in arrival order. ``on_look`` is called at every look at what arrived.

    :raises WaitTimeout: too few arrived within ``seconds``, or too many.
    """
    expectation = f"{'exactly' if exactly else 'at least'} {count}"
    watch = Watch(
        changed,
        channels,
        where=where,
        what=what,
        expectation=expectation,
        seconds=seconds,
        notes=notes,
        count=count,
        exactly=exactly,
        on_look=on_look,
    )
    yield from watch.wait_until(
        lambda counts: all(n >= count for n in counts.values()), watch.deadline
    )
    short = [channel for channel in channels if len(watch.matched[channel.key]) < count]
    if short:
        watch.fail(
            _troubled(short, "the deadline passed: ")
            + "; ".join(
                f"{channel.title} received {len(watch.matched[channel.key])} of {count}"
                for channel in short
            )
        )
    if exactly and grace > 0:
        last_needed = max(watch.matched[channel.key][count - 1].received_at for channel in channels)
        yield from watch.wait_until(
            lambda counts: any(n > count for n in counts.values()), last_needed + grace
        )
        extra = [channel for channel in channels if len(watch.matched[channel.key]) > count]
        if extra:
            reasons = []
            for channel in extra:
                found = watch.matched[channel.key]
                gap = found[count].received_at - found[count - 1].received_at
                reasons.append(
                    f"{channel.title} received {len(found)}, more than the {count} expected "
                    f"(the extra one arrived {format_duration(max(gap, 0))} after the "
                    f"{ordinal(count)}, within the {format_duration(grace)} grace window)"
                )
            watch.fail("; ".join(reasons))
    watch.passed()
    return {key: matched[:] for key, matched in watch.matched.items()}


def none_plan(
    changed: Changes,
    channels: Sequence[Channel[A]],
    *,
    where: Matcher[A] | None,
    what: str,
    seconds: float,
    notes: Callable[[float], list[str]] | None = None,
    on_look: Callable[[Look], object] | None = None,
) -> Plan[None]:
    """Fail as soon as an arrival matching ``where`` reaches a channel within ``seconds``.

    An arrival of the scenario from before the window began counts too: the system was
    not quiet. ``seconds`` is a window, reported as such.
    """
    watch = Watch(
        changed,
        channels,
        where=where,
        what=what,
        expectation="none",
        seconds=seconds,
        window=True,
        notes=notes,
        on_look=on_look,
    )
    yield from watch.wait_until(lambda counts: any(counts.values()), watch.deadline)
    found = sorted(
        (
            (arrival.received_at, channel.noun, channel.title)
            for channel in channels
            for arrival in watch.matched[channel.key]
        ),
        key=lambda item: item[0],
    )
    if found:
        at, noun, title = found[0]
        offset = at - watch.started
        when = (
            f"{format_duration(offset)} into the {format_duration(seconds)} window"
            if offset >= 0
            else f"{format_duration(-offset)} before the window began"
        )
        watch.fail(f"a {noun} reached {title} {when}")
    troubled = _troubled(channels, "")
    if troubled:  # silence from a broker that does not answer proves nothing
        names = " and ".join(channel.title for channel in channels)
        watch.fail(f"{troubled}nothing can be said about what reached {names}")
    watch.passed()


expect_count = blocking(count_plan)
expect_none = blocking(none_plan)


def _troubled(channels: Sequence[Channel[A]], then: str) -> str:
    """``"<trouble>; <trouble>, so " + then`` for the channels' troubles; ``then`` if none."""
    troubles = list(dict.fromkeys(t for t in (c.trouble() for c in channels) if t))
    return f"{'; '.join(troubles)}, so {then}" if troubles else then


def relative_time(at: float, started: float) -> str:
    """``at`` relative to ``started`` on the monotonic clock: ``+120 ms``, ``-1.50 s``."""
    return evidence_text.relative_time(at - started)


def plural(count: int, word: str) -> str:
    """``word`` for one, ``word + "s"`` for any other count."""
    return word if count == 1 else word + "s"


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``11th``, ``22nd``."""
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"
