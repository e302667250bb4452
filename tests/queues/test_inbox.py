"""The scenario's inbox: a wait on it notices a signal at once, wherever it was delivered."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator

import doubles
import pytest
from doubles import Interrupted

from asyncbdd.queues import Inbox


@pytest.fixture
def signal_taken_by_another_thread() -> Iterator[Callable[[threading.Condition], None]]:
    """See :func:`doubles.signal_taken_by_another_thread`."""
    with doubles.signal_taken_by_another_thread() as send:
        yield send


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
