"""Progress lines of long waits: what a wait waits for, how long is left, what it saw.

A wait that has run for ``asyncbdd.progress.after`` seconds (5 s) prints one line, and
one more every ``asyncbdd.progress.every`` seconds (5 s) while it goes on::

    asyncbdd: waiting 10.0 s of 30 s (20.0 s left) for the order status to be
    'shipped'; last value 'paid' (14 checks)

(one line in fact).

Setting ``asyncbdd.progress``: ``auto`` (the default) prints when stderr is a terminal,
``always`` prints anyway (a CI log), ``never`` does not. Lines go to the process's own
stderr, past behave's output capture.

A :class:`Progress` only listens: the engine tells it of every check a poll makes, and
of every look a wait on arrivals takes (wake-ups included), so it never makes a probe
call of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TextIO

from asyncbdd.config import PROGRESS_MODES, get_settings
from asyncbdd.durations import format_duration
from asyncbdd.matching import shorten
from asyncbdd.secrets import mask_urls_in

__all__ = ["PROGRESS_MODES", "Progress", "progress_for"]


class Progress:
    """Prints a line about a wait once it has run ``after`` seconds, then every ``every``.

    :meth:`update` is called by the wait's per-check (or per-look) listener with the
    time elapsed; the status (the last value, the arrivals so far) is computed only when
    a line is due.
    """

    def __init__(
        self,
        what: str,
        timeout: float,
        *,
        after: float,
        every: float,
        write: Callable[[str], None],
    ) -> None:
        self.what, self.timeout, self.every, self.write = what, timeout, every, write
        self.due = after
        self.printed = 0

    def update(self, elapsed: float, status: Callable[[], str]) -> None:
        """Print a line if one is due ``elapsed`` seconds into the wait."""
        if elapsed < self.due:
            return
        self.due = elapsed + self.every
        self.printed += 1
        left = max(self.timeout - elapsed, 0.0)
        line = (
            f"asyncbdd: waiting {elapsed:.1f} s of {format_duration(self.timeout)} "
            f"({left:.1f} s left) for {shorten(' '.join(self.what.split()), 160)}; {status()}"
        )
        self.write(mask_urls_in(line))


def progress_for(what: str, timeout: float) -> Progress | None:
    """A :class:`Progress` for a wait, as the settings ask; ``None`` when they ask for
    none, or the wait cannot run long enough to print."""
    settings = get_settings()
    stream = _stream()
    mode = settings.progress
    if mode == "never" or stream is None or timeout <= settings.progress_after:
        return None
    if mode == "auto" and not _is_terminal(stream):
        return None
    return Progress(
        what,
        timeout,
        after=settings.progress_after,
        every=settings.progress_every,
        write=_write,
    )


def _stream() -> TextIO | None:
    return sys.__stderr__ or sys.stderr


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (OSError, ValueError):
        return False


def _write(line: str) -> None:
    stream = _stream()
    if stream is None:
        return
    try:
        stream.write(line + "\n")
        stream.flush()
    except (OSError, ValueError):  # a closed or broken stderr: the wait goes on regardless
        pass
