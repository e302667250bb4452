"""Tripwires: a terminal state declared once ends every wait of the scenario at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

import pytest

from asyncbdd.arrivals import Channel, expect_count
from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import TripwireTripped, UnknownName
from asyncbdd.probes import PROBES, fail_at_once_if_value, register_probe
from asyncbdd.scenario import end_scenario, scenario
from asyncbdd.tripwires import Tripwire
from asyncbdd.wait import Check, met_within, wait_stays, wait_until


@pytest.fixture(autouse=True)
def clean_state() -> Iterator[dict[str, str]]:
    """Known settings, no scenario running, and a probe "the order status" over a dict."""
    set_settings(Settings())
    end_scenario()
    status = {"order": "pending"}
    register_probe("the order status", lambda: status["order"], replace=True)
    yield status
    end_scenario()
    PROBES.unregister("the order status")
    set_settings(None)


def test_a_tripwire_already_tripped_fails_the_next_wait_at_once(
    clean_state: dict[str, str],
) -> None:
    """A wait started after the tripwire tripped fails before its first check, naming it."""
    clean_state["order"] = "failed"
    with scenario("tripped early"):
        fail_at_once_if_value("the order status", "failed")
        started = time.monotonic()
        with pytest.raises(TripwireTripped) as caught:
            wait_until(lambda: False, timeout=10, description="the invoice exists")
    assert time.monotonic() - started < 1
    message = str(caught.value)
    assert message.startswith("Waited for: the invoice exists\n")
    assert 'the scenario\'s tripwire tripped: the order status becomes "failed"' in message
    assert "before this wait began; it read 'failed')" in message
    assert caught.value.trip.value == "failed"  # type: ignore[attr-defined]


def test_a_tripwire_that_trips_during_a_wait_ends_it_within_moments(
    clean_state: dict[str, str],
) -> None:
    """A poll wait with a 10 s deadline fails soon after the tripwire's state appears."""

    def fail_the_order(check: Check[object]) -> None:
        if check.attempt == 1:
            clean_state["order"] = "failed"

    with scenario("trips during"):
        fail_at_once_if_value("the order status", "failed")
        started = time.monotonic()
        with pytest.raises(TripwireTripped, match="into this wait; it read 'failed'"):
            wait_until(lambda: False, timeout=10, on_check=fail_the_order)
    assert time.monotonic() - started < 2


def test_a_stay_is_ended_by_a_tripwire(clean_state: dict[str, str]) -> None:
    """wait_stays honours tripwires as wait_until does."""

    def fail_the_order(check: Check[object]) -> None:
        clean_state["order"] = "failed"

    with scenario("stay"):
        fail_at_once_if_value("the order status", "failed")
        with pytest.raises(TripwireTripped):
            wait_stays(lambda: True, bool, during=10, on_check=fail_the_order)


def test_a_soft_wait_still_raises_for_a_tripwire(clean_state: dict[str, str]) -> None:
    """met_within answers for its own condition, not for the scenario's terminal state."""
    clean_state["order"] = "failed"
    with scenario("soft"):
        fail_at_once_if_value("the order status", "failed")
        with pytest.raises(TripwireTripped):
            met_within(lambda: False, timeout=5)


class _List(Channel[object]):
    """A channel over a plain list, for the arrivals engine."""

    def __init__(self) -> None:
        super().__init__("box", "the box")
        self.items: list[object] = []

    def arrived(self) -> Sequence[object]:
        return self.items

    def describe(self) -> str:
        return "a list in the test"


def test_an_event_wait_is_woken_by_a_tripwire() -> None:
    """A wait for arrivals (queues, webhooks) is woken and fails when a tripwire trips."""
    changed = threading.Condition()
    tripped = threading.Event()
    with scenario("arrivals") as state:
        state.tripwires.add(Tripwire("the alarm rings", tripped.is_set))
        threading.Timer(0.05, tripped.set).start()
        started = time.monotonic()
        with pytest.raises(TripwireTripped) as caught:
            expect_count(
                changed,
                [_List()],
                1,
                exactly=True,
                grace=0.5,
                where=None,
                what="a thing in the box",
                seconds=10,
            )
    assert time.monotonic() - started < 2
    assert "the scenario's tripwire tripped: the alarm rings" in str(caught.value)
    assert "box: a list in the test" in str(caught.value)


def test_an_unknown_probe_is_an_error_when_the_tripwire_is_set() -> None:
    """A mistyped probe fails the step that sets the tripwire, not silently never trips."""
    with scenario("typo"), pytest.raises(UnknownName):
        fail_at_once_if_value("the order statsu", "failed")


def test_a_reading_that_fails_does_not_trip(clean_state: dict[str, str]) -> None:
    """A tripwire whose reading raises (no order placed yet) lets waits run as usual."""

    def not_yet() -> str:
        raise LookupError("no order yet")

    with scenario("not yet") as state:
        state.tripwires.add(Tripwire("the order fails", not_yet, lambda value: True))
        assert wait_until(lambda: True, timeout=1)
        assert state.tripwires.trip is None


def test_the_watching_thread_ends_with_the_scenario(clean_state: dict[str, str]) -> None:
    """The thread that reads tripwires stops when the scenario ends."""
    before = {thread.name for thread in threading.enumerate()}
    with scenario("threads"):
        fail_at_once_if_value("the order status", "failed")
        assert "asyncbdd-tripwires" in {thread.name for thread in threading.enumerate()}
    assert {thread.name for thread in threading.enumerate()} == before
