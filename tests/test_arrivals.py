"""Waiting on arrivals: a wait in the main thread notices a signal at once, wherever the
operating system delivered it."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import doubles
import pytest
from doubles import Interrupted

from asyncbdd import drivers
from asyncbdd.arrivals import Watch
from asyncbdd.signals import Changes

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_kill"), reason="needs signals sent to one thread"
)


@pytest.fixture
def signal_taken_by_another_thread() -> Iterator[Callable[[threading.Condition], None]]:
    """See :func:`doubles.signal_taken_by_another_thread`."""
    with doubles.signal_taken_by_another_thread() as send:
        yield send


def test_a_wait_notices_a_signal_another_thread_took_at_once(
    signal_taken_by_another_thread: Callable[[threading.Condition], None],
) -> None:
    """Ctrl-C during a 30 s wait stops it within a moment, not when the 30 s have passed,
    even when another thread (a reader, a server) took the signal."""
    changed = Changes()
    watch: Watch[object] = Watch(
        changed, [], where=None, what="nothing", expectation="none", seconds=30
    )

    def never(counts: dict[str, int]) -> bool:
        signal_taken_by_another_thread(changed)
        return False

    began = time.monotonic()
    with pytest.raises(Interrupted):
        drivers.run(watch.wait_until(never, watch.deadline))
    assert time.monotonic() - began < 3.0  # it wakes every WAKE_EVERY; 3 s for a busy machine
