"""The deadline of the wait in progress, for calls that must end by it.

A wait sets its deadline for the code it calls (:func:`until`); a probe, a snapshot or a
trace read that talks to a database or a broker asks :func:`time_left` how long its call
may block, and passes that on as a statement, socket or busy timeout. The deadline is a
:class:`~contextvars.ContextVar`, so it follows the probe into the wait's worker thread
and into tasks, and nested waits never extend the outer one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["bounded", "time_left", "until"]

_deadline: ContextVar[float | None] = ContextVar("asyncbdd_deadline", default=None)


def time_left() -> float | None:
    """Seconds until the innermost wait's deadline (0 once it passed); ``None`` outside one."""
    deadline = _deadline.get()
    return None if deadline is None else max(deadline - time.monotonic(), 0.0)


def bounded(default: float) -> float:
    """How long a call may block: ``default``, or less when the wait's deadline is nearer."""
    left = time_left()
    return default if left is None else min(default, left)


@contextmanager
def until(deadline: float) -> Iterator[None]:
    """Make ``deadline`` (on the :func:`time.monotonic` clock) the deadline of the block.

    An enclosing deadline that is earlier stays in force.
    """
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else min(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)
