"""The scenario's inbox: a wait on it notices a signal at once, wherever it was delivered."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType

import pytest

from asyncbdd.queues import Inbox


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


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="needs signals to one thread")
def test_an_inbox_wait_notices_a_signal_another_thread_took_at_once(
    signal_taken_by_another_thread: Callable[[threading.Condition], None],
) -> None:
    """Ctrl-C during a 30 s wait on the inbox stops it within a moment, even when another
    thread (a reader) took the signal."""
    box = Inbox("correlation-id")

    def never() -> bool:
        signal_taken_by_another_thread(box.changed)
        return False

    began = time.monotonic()
    with pytest.raises(Interrupted):
        box.wait(never, 30)
    assert time.monotonic() - began < 3.0  # it wakes every WAKE_EVERY; 3 s for a busy machine


def test_an_inbox_wait_says_whether_it_was_ready() -> None:
    """wait() returns True once ready, False when the time passed first."""
    box = Inbox("correlation-id")
    assert box.wait(lambda: True, 30)
    assert not box.wait(lambda: False, 0)
