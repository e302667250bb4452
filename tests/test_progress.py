"""Progress lines of long waits: when they print, what they say, and that they cost no
probe call.

Polls run on a fake clock (no real sleeps); the lines are read from a stand-in for the
process's stderr.
"""

from __future__ import annotations

import io
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from doubles import FakeClock

from asyncbdd.arrivals import Channel, Look, expect_count
from asyncbdd.config import Settings, load_settings, set_settings
from asyncbdd.errors import ConfigurationError, WaitTimeout
from asyncbdd.evidence.progress import Progress
from asyncbdd.wait import wait_until


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def stderr(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)
    return stream


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    set_settings(Settings())
    yield
    set_settings(None)


def never_ready(clock: FakeClock, stderr: io.StringIO, progress: str) -> tuple[int, list[str]]:
    """Probe calls and progress lines of a 30 s wait for a status that stays 'paid'."""
    set_settings(Settings(progress=progress))
    calls = 0

    def status() -> str:
        nonlocal calls
        calls += 1
        return "paid"

    with pytest.raises(WaitTimeout):
        wait_until(status, lambda value: value == "shipped", timeout=30,
                   description="the order status becomes 'shipped'", clock=clock,
                   sleep=clock.sleep)  # fmt: skip
    lines = stderr.getvalue().splitlines()
    stderr.seek(0)
    stderr.truncate()
    return calls, lines


def test_a_long_poll_prints_a_line_every_5_seconds_after_the_first_5(
    stderr: io.StringIO,
) -> None:
    calls, lines = never_ready(FakeClock(), stderr, "always")
    assert calls > 0
    assert len(lines) == 5  # at about 5, 10, 15, 20 and 25 s of 30
    first = lines[0]
    assert first.startswith("asyncbdd: waiting 5.")
    assert "of 30 s" in first
    assert "s left) for the order status becomes 'shipped'" in first
    assert "last value 'paid'" in first
    assert "checks)" in first


def test_progress_costs_no_probe_call(stderr: io.StringIO) -> None:
    """The same wait makes exactly as many probe calls with progress lines as without."""
    with_progress, printed = never_ready(FakeClock(), stderr, "always")
    without, silent = never_ready(FakeClock(), stderr, "never")
    assert printed
    assert not silent
    assert with_progress == without


def test_auto_prints_only_to_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for stream, expected in ((io.StringIO(), 0), (Terminal(), 5)):
        monkeypatch.setattr(sys, "__stderr__", stream)
        set_settings(Settings(progress="auto"))
        clock = FakeClock()
        with pytest.raises(WaitTimeout):
            wait_until(lambda: 0, lambda value: False, timeout=30, clock=clock,
                       sleep=clock.sleep)  # fmt: skip
        assert len(stream.getvalue().splitlines()) == expected


def test_a_wait_shorter_than_the_threshold_prints_nothing(stderr: io.StringIO) -> None:
    set_settings(Settings(progress="always", progress_after=5.0))
    clock = FakeClock()
    with pytest.raises(WaitTimeout):
        wait_until(lambda: 0, lambda value: False, timeout=5, clock=clock, sleep=clock.sleep)
    assert stderr.getvalue() == ""


def test_after_and_every_are_settings(stderr: io.StringIO) -> None:
    set_settings(Settings(progress="always", progress_after=1.0, progress_every=2.0))
    clock = FakeClock()
    with pytest.raises(WaitTimeout):
        wait_until(lambda: 0, lambda value: False, timeout=10, interval=0.5, clock=clock,
                   sleep=clock.sleep)  # fmt: skip
    started = [float(line.split()[2]) for line in stderr.getvalue().splitlines()]
    assert started == [1.0, 3.0, 5.0, 7.0, 9.0]


def test_the_settings_are_read_and_checked() -> None:
    settings = load_settings(
        file_values={"asyncbdd.progress": "Always", "asyncbdd.progress.after": "2 seconds"},
        environ={"ASYNCBDD_PROGRESS_EVERY": "500 ms"},
    )
    assert (settings.progress, settings.progress_after, settings.progress_every) == (
        "always",
        2.0,
        0.5,
    )
    with pytest.raises(ConfigurationError, match="write one of auto, always, never"):
        load_settings(file_values={"asyncbdd.progress": "sometimes"})
    with pytest.raises(ConfigurationError, match=r"asyncbdd\.progress\.every"):
        load_settings(file_values={"asyncbdd.progress.every": "0"})


def test_a_progress_line_masks_secrets_of_urls() -> None:
    lines: list[str] = []
    progress = Progress("a call to https://u:hunter2@api.test/x", 30, after=0, every=5,
                        write=lines.append)  # fmt: skip
    progress.update(0.0, lambda: "last value 'https://api.test/?token=hunter2'")
    assert lines
    assert "hunter2" not in lines[0]


# --------------------------------------------------------------------------------------
# Waits on arrivals
# --------------------------------------------------------------------------------------


@dataclass
class Parcel:
    received_at: float

    def summary(self, limit: int = 160) -> str:
        return "a parcel"


class Shelf(Channel[Parcel]):
    noun = "parcel"
    kind = "queue"

    def __init__(self, parcels: Sequence[Parcel]) -> None:
        super().__init__("shelf", "the shelf")
        self.parcels = list(parcels)

    def arrived(self) -> Sequence[Parcel]:
        return self.parcels

    def describe(self) -> str:
        return "a shelf in memory"


def test_a_wait_on_arrivals_tells_its_listener_and_prints_what_arrived(
    stderr: io.StringIO,
) -> None:
    set_settings(Settings(progress="always", progress_after=0.0, progress_every=60.0))
    looks: list[Look] = []
    shelf = Shelf([Parcel(time.monotonic())])
    with pytest.raises(WaitTimeout):
        expect_count(threading.Condition(), [shelf], 2, exactly=True, grace=0.0, where=None,
                     what="the shelf to hold 2 parcels", seconds=0.05,
                     on_look=looks.append)  # fmt: skip
    assert looks
    assert looks[0].matching == {"shelf": 1}
    [line] = stderr.getvalue().splitlines()
    assert "for the shelf to hold 2 parcels; shelf: 1 of 2 matching so far" in line
