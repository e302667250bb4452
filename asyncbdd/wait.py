"""The poll engine: wait until a condition holds, and explain it when it does not.

Three questions cover what a test asks of something that happens eventually:

* :func:`wait_until` -- does it hold *within* a deadline? Optional ``at_least`` (it must
  not hold too early), ``hold`` (once it holds it must keep holding for a window),
  ``fail_if`` (stop at once on a terminal wrong state) and ``ignore`` (exceptions that
  mean "not yet").
* :func:`wait_stays` -- does it hold *now and throughout* a window?
* :func:`wait_until_asserted` -- does an assertion about a probe's value pass within a
  deadline?

:func:`met_within` asks the first question without raising: it says whether it held.

Semantics, with examples (``t`` is time since the wait began)::

    wait_until(status, eq("paid"), timeout=5)           # passes at the first check that
                                                         # reads "paid" and ends by t = 5
    wait_until(status, eq("paid"), timeout=5, at_least=1)
        # fails at once if a check called before t = 1 reads "paid": it happened too early
    wait_until(status, eq("paid"), timeout=5, hold=2)
        # the condition must become true and then stay true for 2 s, all within 5 s:
        # true at t=1..3 passes at t=3; true at t=1..2, false at 2.5, true 3..5 times out
    wait_stays(status, eq("pending"), during=2)
        # true at t=0 and at every check until t=2 passes at t=2; false at t=0 fails
        # at once; false at t=1.2 fails at t=1.2
    wait_until_asserted(status, lambda value: assert_paid(value), timeout=5)
        # passes when assert_paid stops raising AssertionError; returns the value

**The condition** is true when it returns a truthy value; raising ``AssertionError``
means "not yet" (the last one is reported). A function that asserts and returns nothing
returns ``None``, which is false: give it to :func:`wait_until_asserted` instead (a
failure that saw only ``None`` says so).

**Never a false pass, never an unbounded wait.** Each check runs in a worker thread of
the wait (:mod:`asyncbdd.probe_calls`) and is waited for only until the deadline: a check
still running then ends the wait there, with a failure that says so, and a value that
arrives after the deadline does not pass. Coroutines a probe or condition returns are
awaited (cancelled at the deadline), never taken as true. Database calls made by a
probe bound themselves by the time left (:mod:`asyncbdd.deadline`).

**Impossible waits are refused before they start**: a ``hold``, ``at_least`` or
``poll_delay`` as long as the deadline or longer, a fixed interval as long as the
deadline, a timeout of 0 (nothing can be read by then), and any infinite or NaN
duration.

A probe is checked once immediately, then at intervals from an
:data:`~asyncbdd.intervals.IntervalStrategy` (by default they grow with the time already
waited, so a quick condition is seen within milliseconds and a slow one costs few probe
calls). Deadlines use the monotonic clock and are multiplied by ``timeout_scale``
(setting ``asyncbdd.timeout_scale`` / ``ASYNCBDD_TIMEOUT_SCALE``). The last check is
timed to end by the deadline. The scenario's tripwires (:mod:`asyncbdd.tripwires`) end
every wait at once when one trips.

Each function here blocks the calling thread; :mod:`asyncbdd.aio` has an awaitable twin
of each, with the same arguments, for code that runs in an event loop (where these
refuse to run: they would stall the loop).

Every failure is a :class:`~asyncbdd.errors.WaitTimeout` (an ``AssertionError``: a test
failure, not an error) whose message states what was awaited, the deadline and elapsed
time, attempts and interval, the last value, the values seen over time, the exceptions
swallowed, and the diagnostics of ``on_timeout``. The last swallowed exception or
assertion is chained as its ``__cause__``.
"""

from __future__ import annotations

from asyncbdd import waiting
from asyncbdd.budget import Seconds, TimeBudget, reserve_deadline, time_budget
from asyncbdd.drivers import blocking
from asyncbdd.errors import hide_failure_frames
from asyncbdd.intervals import (
    Exponential,
    Fibonacci,
    Fixed,
    IntervalStrategy,
    Proportional,
    default_interval,
)
from asyncbdd.wait_state import Check, Observation, Swallowed, WaitState
from asyncbdd.waiting import Ignore, WaitOutcome

__all__ = [
    "Check",
    "Exponential",
    "Fibonacci",
    "Fixed",
    "Ignore",
    "IntervalStrategy",
    "Observation",
    "Proportional",
    "Seconds",
    "Swallowed",
    "TimeBudget",
    "WaitOutcome",
    "WaitState",
    "default_interval",
    "met_within",
    "reserve_deadline",
    "time_budget",
    "wait_stays",
    "wait_until",
    "wait_until_asserted",
]

__tracebackhide__ = hide_failure_frames

wait_until = blocking(waiting.wait_until)
wait_stays = blocking(waiting.wait_stays)
wait_until_asserted = blocking(waiting.wait_until_asserted)
met_within = blocking(waiting.met_within)
