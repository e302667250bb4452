"""Waiting on arrivals: a wait in the main thread notices a signal at once, wherever the
operating system delivered it."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from asyncbdd.arrivals import Watch

pytestmark = pytest.mark.skipif(
    not hasattr(signal, "pthread_kill"), reason="needs signals sent to one thread"
)


class Interrupted(Exception):
    """What the test's signal handler raises, as Python's own raises KeyboardInterrupt."""


@pytest.fixture
def signal_taken_by_another_thread() -> Iterator[Callable[[threading.Condition], None]]:
    """``send(condition)``: once the main thread waits on ``condition`` (and so has let go
    of its lock), another thread takes SIGUSR1, whose handler raises :class:`Interrupted`.
    Python runs that handler in the main thread, when the main thread next wakes."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Interrupted

    previous = signal.signal(signal.SIGUSR1, interrupt)
    waited_on: list[threading.Condition] = []
    started = threading.Event()

    def take_signal() -> None:
        started.wait()
        with waited_on[0]:  # free only while the main thread waits
            signal.pthread_kill(threading.get_ident(), signal.SIGUSR1)

    def send(condition: threading.Condition) -> None:
        if not waited_on:
            waited_on.append(condition)
            started.set()

    helper = threading.Thread(target=take_signal, daemon=True)
    helper.start()
    try:
        yield send
    finally:
        send(threading.Condition())
        helper.join()
        signal.signal(signal.SIGUSR1, previous)


def test_a_wait_notices_a_signal_another_thread_took_at_once(
    signal_taken_by_another_thread: Callable[[threading.Condition], None],
) -> None:
    """Ctrl-C during a 30 s wait stops it within a moment, not when the 30 s have passed,
    even when another thread (a reader, a server) took the signal."""
    changed = threading.Condition()
    watch: Watch[object] = Watch(
        changed, [], where=None, what="nothing", expectation="none", seconds=30
    )

    def never(counts: dict[str, int]) -> bool:
        signal_taken_by_another_thread(changed)
        return False

    began = time.monotonic()
    with pytest.raises(Interrupted):
        watch.wait_until(never, watch.deadline)
    assert time.monotonic() - began < 3.0  # it wakes every WAKE_EVERY; 3 s for a busy machine
