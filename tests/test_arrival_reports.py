"""The failure report of a wait on arrivals (queue messages, webhook calls)."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest

from asyncbdd.arrivals import Channel, expect_count, expect_none
from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.signals import Changes


@dataclass(frozen=True)
class _Thing:
    """An arrival: when, and what."""

    received_at: float
    text: str

    def summary(self, limit: int = 160) -> str:
        return self.text


class _Box(Channel[_Thing]):
    """A channel over a plain list."""

    def __init__(self) -> None:
        super().__init__("box", "the box")
        self.items: list[_Thing] = []

    def arrived(self) -> Sequence[_Thing]:
        return self.items

    def describe(self) -> str:
        return "a list in the test"


@pytest.fixture(autouse=True)
def half_scale() -> Iterator[None]:
    set_settings(Settings(timeout_scale=0.5))
    yield
    set_settings(None)


def test_a_failure_at_a_scaled_deadline_names_the_scale() -> None:
    """A queue or webhook wait that failed at a scaled deadline says so, as polls do."""
    with pytest.raises(WaitTimeout) as caught:
        expect_count(
            Changes(),
            [_Box()],
            1,
            exactly=False,
            grace=0,
            where=None,
            what="a thing in the box",
            seconds=0.05,
        )
    assert "deadline:    50 ms (x0.5 timeout scale), elapsed" in str(caught.value)


def test_a_quiet_window_is_not_scaled_and_says_nothing_of_a_scale() -> None:
    """A window to stay quiet for is part of what is asserted: no scale note."""
    box = _Box()
    box.items.append(_Thing(time.monotonic(), "surprise"))
    with pytest.raises(WaitTimeout) as caught:
        expect_none(Changes(), [box], where=None, what="nothing", seconds=0.05)
    assert "window:      50 ms, elapsed" in str(caught.value)
