"""One primitive by which things that arrive wake whoever waits for them.

A queue reader or the webhook server appends what arrived under a :class:`Changes` lock
and calls :meth:`~threading.Condition.notify_all`. That wakes the threads blocked in
:meth:`~threading.Condition.wait_for` (the sync driver) and, through their event loops'
thread-safe handoff, the asyncio tasks awaiting :meth:`Changes.until` (the asyncio
driver). Neither polls: a task waiting costs an :class:`asyncio.Event`, not a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asyncbdd.tripwires import Tripwires

__all__ = ["WAKE_EVERY", "Changes", "resolve", "wait_waking"]

WAKE_EVERY = 0.25
"""Longest a waiting thread blocks at once, so that a Ctrl-C that another thread took
is handled within this time rather than at the deadline."""


class Changes(threading.Condition):
    """A condition variable whose notifications wake asyncio tasks as well as threads.

    Use it where a :class:`threading.Condition` would be used; notify with the lock held,
    as for any condition.
    """

    def __init__(self, lock: threading.Lock | threading.RLock | None = None) -> None:
        super().__init__(lock)
        self._tasks: set[_TaskWaiter] = set()

    def notify(self, n: int = 1) -> None:
        super().notify(n)
        self._wake_tasks()

    def notify_all(self) -> None:
        super().notify_all()
        self._wake_tasks()

    async def until(self, ready: Callable[[], bool], until: float) -> bool:
        """Await until ``ready()`` holds (it is called with the lock held) or the monotonic
        time ``until``; return whether it held. A notification (or :meth:`notify_all`
        from a tripwire) makes the task look again."""
        waiter = _TaskWaiter(asyncio.get_running_loop())
        with self:
            self._tasks.add(waiter)
        try:
            while True:
                with self:
                    if ready():
                        return True
                    waiter.arm()  # under the lock: a notification after this resolves it
                left = until - time.monotonic()
                if left <= 0:
                    return False
                await waiter.wait(left)
        finally:
            with self:
                self._tasks.discard(waiter)

    def _wake_tasks(self) -> None:
        for waiter in list(self._tasks):
            waiter.wake()


class _TaskWaiter:
    """One awaiting task: a future per look, resolved from any thread by a notification."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[None] | None = None

    def arm(self) -> None:
        self.future = self.loop.create_future()

    def wake(self) -> None:
        future = self.future
        if future is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self.loop.call_soon_threadsafe(resolve, future)

    async def wait(self, seconds: float) -> None:
        future = self.future
        assert future is not None
        timer = self.loop.call_later(seconds, resolve, future)
        try:
            await future
        finally:
            timer.cancel()


def resolve(future: asyncio.Future[None]) -> None:
    """Resolve ``future`` unless it is done (a wake-up and a timer may both come)."""
    if not future.done():
        future.set_result(None)


def wait_waking(
    condition: threading.Condition,
    ready: Callable[[], bool],
    until: float,
    tripwires: Tripwires | None = None,
) -> bool:
    """``condition.wait_for(ready)`` until the monotonic time ``until``, waking at least
    every :data:`WAKE_EVERY` seconds so that a Ctrl-C taken by another thread is handled
    at once, and at once when one of ``tripwires`` trips (the caller then finds it
    tripped). The caller holds the condition's lock. Returns whether ``ready()`` held."""
    if tripwires is None:
        return _wait_for(condition, ready, until)

    def notify() -> None:
        with condition:
            condition.notify_all()

    with tripwires.waking(notify):
        _wait_for(condition, lambda: tripwires.trip is not None or ready(), until)
    return ready()


def _wait_for(condition: threading.Condition, ready: Callable[[], bool], until: float) -> bool:
    while not condition.wait_for(ready, timeout=min(max(until - time.monotonic(), 0), WAKE_EVERY)):
        if time.monotonic() >= until:
            return False
    return True
