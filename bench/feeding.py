"""Feeding a broker from outside the reader a benchmark measures: a client in a child
process that sends once told to go, and a send made at a set moment."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["ChildFeeder", "SendLater"]


class ChildFeeder:
    """``script`` run by a Python child process with ``arguments``, so that its client
    does not share this interpreter (and its lock) with the reader measured.

    The script prints ``ready`` once connected, reads the correlation id to send with
    from its standard input (:meth:`go`), and may print how many seconds sending took
    (:meth:`seconds`). ``broker`` names it in errors.
    """

    def __init__(self, broker: str, script: str, *arguments: str, close_within: float = 30):
        self._child = subprocess.Popen(
            [sys.executable, "-c", script, *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self._child.stdin is not None
        assert self._child.stdout is not None
        self._stdin, self._stdout = self._child.stdin, self._child.stdout
        self._close_within = close_within
        if self._stdout.readline().strip() != b"ready":
            self.close()
            raise RuntimeError(f"the {broker} feeder did not start")

    def go(self, correlation_id: str) -> None:
        """Start sending, every message with this correlation id."""
        self._stdin.write(correlation_id.encode() + b"\n")
        self._stdin.flush()

    def seconds(self) -> float:
        """How long the child took to send every message (waits for it)."""
        return float(self._stdout.readline())

    def close(self) -> None:
        """Wait for the child to finish (kill it after ``close_within`` seconds)."""
        self._stdin.close()
        try:
            self._child.wait(self._close_within)
        finally:
            if self._child.poll() is None:
                self._child.kill()
                self._child.wait()
            self._stdout.close()

    def __enter__(self) -> ChildFeeder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class SendLater(threading.Thread):
    """Runs ``send`` ``after`` seconds from now, and records when it was called."""

    def __init__(self, after: float, send: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.at, self.send, self.called = time.monotonic() + after, send, 0.0
        self.start()

    def run(self) -> None:
        time.sleep(max(0.0, self.at - time.monotonic()))
        self.called = time.monotonic()
        self.send()
