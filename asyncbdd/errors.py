"""Exception types of asyncbdd.

Two families, kept apart on purpose:

* :class:`WaitTimeout` and the other :class:`AssertionError` subclasses mean *the system
  under test did not behave*: a test failure, reported as such by pytest and behave.
* :class:`AsyncBddError` and its subclasses mean *the test itself cannot run as written*:
  a malformed duration, an unknown name, an unreachable database. Their messages name the
  offending input and say how to fix it.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from typing import Any

__all__ = [
    "AsyncBddError",
    "BudgetExceeded",
    "ConfigurationError",
    "DatabaseTimeout",
    "DatabaseUnavailable",
    "ExpectationFailed",
    "InvalidInput",
    "QueryFailed",
    "TripwireTripped",
    "UnknownName",
    "WaitAborted",
    "WaitTimeout",
    "hide_failure_frames",
    "report_problem",
    "suggest",
]


class AsyncBddError(Exception):
    """The test cannot run as written; the message names the input and the fix."""


class InvalidInput(AsyncBddError, ValueError):
    """Text from a feature file or a call (a duration, a count, a table) is malformed."""


class ConfigurationError(AsyncBddError):
    """A setting is missing, malformed or unknown."""


class UnknownName(AsyncBddError, LookupError):
    """A step referred to a probe, table or other named thing that does not exist.

    Named things are registered (probes, queues) unless ``where`` says where they were
    looked for (``database sqlite:///shop.db`` for a table).
    """

    def __init__(
        self,
        kind: str,
        name: str,
        known: Iterable[str],
        how_to_register: str,
        *,
        where: str | None = None,
    ) -> None:
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        lines = [f"No {kind} named {name!r} " + (f"in {where}." if where else "is registered.")]
        hint = suggest(name, self.known)
        if hint:
            lines.append(f"Did you mean {hint!r}?")
        listed = ", ".join(repr(k) for k in self.known)
        if where and listed:
            lines.append(f"{kind.capitalize()}s there: {listed}")
        elif where:
            lines.append(f"There are no {kind}s there.")
        elif listed:
            lines.append(f"Registered {kind}s: {listed}")
        else:
            lines.append(f"No {kind}s are registered yet.")
        lines.append(how_to_register)
        super().__init__("\n".join(lines))


class DatabaseUnavailable(AsyncBddError):
    """A database could not be reached or queried."""


class DatabaseTimeout(DatabaseUnavailable):
    """A database call was stopped at the deadline: a slow statement, a lock held by
    another transaction, a server that does not answer."""


class QueryFailed(AsyncBddError):
    """The database was reached, but rejected a query (a missing table, a typo in SQL)."""


class BudgetExceeded(AsyncBddError):
    """A wait asks for more time than is left of the scenario's time budget."""


class ExpectationFailed(AssertionError):
    """The system under test did not do what a step expected (a test failure).

    :attr:`evidence` is what the failure's message was made from, as data
    (an :class:`asyncbdd.evidence.Evidence`), when the failure has it.
    """

    evidence: object = None


class WaitTimeout(ExpectationFailed):
    """A condition did not hold before its deadline.

    The message is fully rendered (see :mod:`asyncbdd.wait`); the structured record of the
    wait is kept on :attr:`state` for tools that want more than text.
    """

    def __init__(self, message: str, state: object = None) -> None:
        super().__init__(message)
        self.state = state


class WaitAborted(WaitTimeout):
    """A wait stopped before its deadline: a fail-fast condition held, or it held too early."""


def suggest(name: str, known: Iterable[str]) -> str | None:
    """Return the known name closest to ``name``, if any is close enough to be a typo."""
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return matches[0] if matches else None


class TripwireTripped(WaitAborted):
    """A tripwire of the scenario tripped: the wait stopped at once, whatever it awaited.

    :attr:`trip` is the :class:`~asyncbdd.tripwires.Trip`: which tripwire, on what, when.
    """

    def __init__(self, message: str, state: object = None, trip: object = None) -> None:
        super().__init__(message, state)
        self.trip = trip


def report_problem(text: str) -> None:
    """Print ``text`` as one line on the console: a problem that must not stop what is
    being done (a client that would not close at the end of a run, a reader left behind).

    It goes to the process's own stderr, past behave's output capture, which would hide it
    when the hook that met it passes.
    """
    stream = sys.__stderr__ or sys.stderr
    line = " ".join(text.split())
    try:
        stream.write(f"asyncbdd: {line}\n")
        stream.flush()
    except (OSError, ValueError):  # a closed or broken stderr: nothing left to tell
        pass


def hide_failure_frames(excinfo: Any) -> bool:
    """Whether pytest hides a frame of asyncbdd's engine from a traceback: yes for a test
    failure (an ``AssertionError`` such as :class:`WaitTimeout`, whose message is the
    report), so the traceback ends at the test's own line; no for anything else (a bug
    in asyncbdd keeps its frames). Engine modules set ``__tracebackhide__`` to it."""
    return isinstance(getattr(excinfo, "value", None), AssertionError)
