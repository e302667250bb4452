"""Tripwires: terminal states a scenario declares once, which end every wait at once.

When an order has failed, waiting ten more seconds for its invoice, its shipping label
and its trace only delays the report. A scenario declares the states that mean "this
will never pass" once (in Gherkin, usually in a Background)::

    Given the scenario fails at once if the order status becomes "failed"
    And the scenario fails at once if the dead-letter queue receives a message
    And the scenario fails at once if "payment.failed" occurs

and from then on every wait of the scenario (polls, stays, snapshots, queues, webhooks,
traces, chains) fails the moment one trips, naming the tripwire, when it tripped and
on what, and what the interrupted step was waiting for.

One thread per scenario reads the tripwires (every :data:`CHECK_EVERY` seconds) while
any is set, and wakes every waiting thread when one trips. A tripwire is read once when
it is set, so a mistyped probe or queue is an error in the step that sets it.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from asyncbdd import deadline
from asyncbdd.durations import format_duration
from asyncbdd.matching import show_value

__all__ = ["CHECK_EVERY", "Trip", "Tripwire", "Tripwires", "armed", "current_tripwires"]

CHECK_EVERY = 0.05
"""Seconds between two readings of a scenario's tripwires."""


@dataclass
class Tripwire:
    """A terminal state: ``trips(read())`` is truthy once the scenario can no longer pass.

    ``description`` says what trips it in the step's words (``the order status becomes
    "failed"``); ``show`` renders the reading that tripped it for the failure.
    """

    description: str
    read: Callable[[], object]
    trips: Callable[[object], object] = bool
    show: Callable[[object], str] = show_value


@dataclass(frozen=True)
class Trip:
    """A tripwire that tripped: on which reading, and when (on the monotonic clock)."""

    tripwire: Tripwire
    value: object
    at: float
    scenario_started: float

    def reason(self, wait_started: float) -> str:
        """Why a wait that began at ``wait_started`` failed, as a clause."""
        into_wait = self.at - wait_started
        relative = (
            f"{format_duration(into_wait)} into this wait"
            if into_wait >= 0
            else f"{format_duration(-into_wait)} before this wait began"
        )
        return (
            f"the scenario's tripwire tripped: {self.tripwire.description} "
            f"({format_duration(self.at - self.scenario_started)} into the scenario, "
            f"{relative}; it read {self.tripwire.show(self.value)})"
        )


@dataclass
class Tripwires:
    """The tripwires of one scenario, read by one thread while any is set."""

    scenario_started: float = field(default_factory=time.monotonic)
    read_timeout: float = 5.0
    """How long one reading may take (database calls bound themselves by it)."""
    _wires: list[Tripwire] = field(default_factory=list)
    _trip: Trip | None = None
    _wakers: list[Callable[[], None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _context: contextvars.Context | None = None

    def add(self, tripwire: Tripwire) -> None:
        """Set ``tripwire``: read it now, then keep reading it.

        A reading that fails does not trip it (the order it reads may not be placed yet);
        resolve names before, so that a mistyped one is the caller's error.
        """
        with contextlib.suppress(Exception):
            self._read(tripwire)
        with self._lock:
            self._wires.append(tripwire)
            if self._thread is None:
                self._context = contextvars.copy_context()
                self._thread = threading.Thread(
                    target=self._watch, name="asyncbdd-tripwires", daemon=True
                )
                self._thread.start()

    @property
    def trip(self) -> Trip | None:
        """The first tripwire that tripped, if any has."""
        return self._trip

    @property
    def wires(self) -> tuple[Tripwire, ...]:
        """The tripwires set so far."""
        with self._lock:
            return tuple(self._wires)

    @contextmanager
    def waking(self, wake: Callable[[], None]) -> Iterator[None]:
        """Call ``wake`` (from the watching thread) if a tripwire trips during the block."""
        with self._lock:
            self._wakers.append(wake)
        try:
            yield
        finally:
            with self._lock:
                self._wakers.remove(wake)

    def close(self) -> None:
        """Stop reading (the scenario ended)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.read_timeout + 1)

    def _watch(self) -> None:
        assert self._context is not None
        while not self._stop.wait(CHECK_EVERY):
            for tripwire in self.wires:
                try:
                    self._context.run(self._read, tripwire)
                except Exception:
                    continue
                if self._trip is not None:
                    return

    def _read(self, tripwire: Tripwire) -> None:
        with deadline.until(time.monotonic() + self.read_timeout):
            value = tripwire.read()
        if tripwire.trips(value) and self._trip is None:
            with self._lock:
                self._trip = Trip(tripwire, value, time.monotonic(), self.scenario_started)
                wakers = list(self._wakers)
            for wake in wakers:
                wake()


_armed: contextvars.ContextVar[Tripwires | None] = contextvars.ContextVar(
    "asyncbdd_tripwires", default=None
)


def current_tripwires() -> Tripwires | None:
    """The tripwires of the running scenario, if it runs one."""
    return _armed.get()


@contextmanager
def armed(tripwires: Tripwires) -> Iterator[Tripwires]:
    """Make ``tripwires`` those every wait in the block honours; close them at its end."""
    token = _armed.set(tripwires)
    try:
        yield tripwires
    finally:
        _armed.reset(token)
        tripwires.close()
