"""The evidence of waits: what a failure carries as data, what a scenario keeps of every
wait, passed or failed, and the one text builder their messages come from."""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import pytest
from doubles import FakeClock

import asyncbdd
from asyncbdd.arrivals import Channel, expect_count
from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import ExpectationFailed, WaitTimeout
from asyncbdd.evidence import (
    ChannelArrivals,
    Evidence,
    Mismatch,
    Polling,
    checked_failure,
    evidence_of,
    on_wait_recorded,
    recorded_waits,
)
from asyncbdd.wait import wait_stays, wait_until

SECRET = "pa55-w0rd-secret"


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    set_settings(Settings())
    yield
    set_settings(None)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_a_failed_poll_carries_its_evidence_and_its_text_is_the_message(
    clock: FakeClock,
) -> None:
    values = iter(["pending", "pending", "paid"])

    def status() -> str:
        return next(values, "paid")

    with pytest.raises(WaitTimeout) as raised:
        wait_until(
            status,
            lambda value: value == "shipped",
            timeout=2,
            interval=0.5,
            description="the order status becomes 'shipped'",
            clock=clock,
            sleep=clock.sleep,
        )
    evidence = evidence_of(raised.value)
    assert evidence is not None
    assert evidence.to_text() == str(raised.value)
    assert (evidence.awaited, evidence.pattern, evidence.passed) == (
        "the order status becomes 'shipped'",
        "poll",
        False,
    )
    assert evidence.timeout == 2
    assert evidence.elapsed == pytest.approx(2)
    assert evidence.reason == "the deadline passed"
    [polling] = [s for s in evidence.sections if isinstance(s, Polling)]
    assert [(run.value, run.count) for run in polling.history] == [("'pending'", 2), ("'paid'", 3)]
    assert polling.last_value == "'paid'"


def test_a_stay_is_a_window_not_a_deadline(clock: FakeClock) -> None:
    with pytest.raises(WaitTimeout) as raised:
        wait_stays(lambda: clock.elapsed < 0.5, bool, during=2, interval=0.25, clock=clock,
                   sleep=clock.sleep)  # fmt: skip
    evidence = evidence_of(raised.value)
    assert evidence is not None
    assert (evidence.pattern, evidence.limit_name) == ("stays", "window")
    assert str(raised.value).splitlines()[2].startswith("  window:      2 s, elapsed")


def test_a_scenario_keeps_every_wait_in_order_passing_ones_with_their_timing(
    clock: FakeClock,
) -> None:
    with asyncbdd.scenario("timing") as state:
        wait_until(lambda: clock.elapsed >= 1, timeout=5, interval=0.5, description="first",
                   clock=clock, sleep=clock.sleep)  # fmt: skip
        with pytest.raises(WaitTimeout):
            wait_until(lambda: False, timeout=1, description="second", clock=clock,
                       sleep=clock.sleep)  # fmt: skip
        assert [wait.awaited for wait in recorded_waits()] == ["first", "second"]
    first, second = recorded_waits(state)  # an ended scenario keeps them
    assert first.passed
    assert not second.passed
    assert first.timeout == 5
    assert first.elapsed == pytest.approx(1)
    assert first.margin == pytest.approx(4)
    assert recorded_waits() == []  # no scenario runs


def test_listeners_hear_of_every_finished_wait_until_removed(clock: FakeClock) -> None:
    heard: list[Evidence] = []
    remove = on_wait_recorded(heard.append)
    try:
        wait_until(lambda: True, timeout=1, clock=clock, sleep=clock.sleep)
        with pytest.raises(WaitTimeout) as raised:
            wait_until(lambda: False, timeout=1, clock=clock, sleep=clock.sleep)
    finally:
        remove()
    wait_until(lambda: True, timeout=1, clock=clock, sleep=clock.sleep)
    assert [evidence.passed for evidence in heard] == [True, False]
    assert heard[1] is evidence_of(raised.value)


def test_json_is_serialisable_and_masks_the_secrets_of_urls(clock: FakeClock) -> None:
    url = f"postgresql://app:{SECRET}@db.local/shop?sslpassword={SECRET}"
    with pytest.raises(WaitTimeout) as raised:
        wait_until(lambda: url, lambda value: False, timeout=1, clock=clock, sleep=clock.sleep)
    evidence = evidence_of(raised.value)
    assert evidence is not None
    document = json.dumps(evidence.to_json())
    assert SECRET not in document
    assert "app:***@db.local" in document
    assert json.loads(document)["sections"][0]["kind"] == "polling"


def test_errors_without_evidence_have_none() -> None:
    assert evidence_of(ValueError("no")) is None
    assert evidence_of(AssertionError("plain")) is None


# --------------------------------------------------------------------------------------
# Arrivals, checks, snapshots: the same header, their own bodies
# --------------------------------------------------------------------------------------


@dataclass
class Parcel:
    received_at: float
    text: str

    def summary(self, limit: int = 160) -> str:
        return self.text[:limit]


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


def test_an_arrivals_failure_carries_each_channel_and_shares_the_header() -> None:
    now = time.monotonic()
    shelf = Shelf([Parcel(now, '{"n": 1}')])
    with pytest.raises(WaitTimeout) as raised:
        expect_count(threading.Condition(), [shelf], 2, exactly=True, grace=0.0, where=None,
                     what="the shelf to hold 2 parcels", seconds=0.05)  # fmt: skip
    evidence = evidence_of(raised.value)
    assert evidence is not None
    assert evidence.pattern == "queue"
    [channel] = evidence.sections
    assert isinstance(channel, ChannelArrivals)
    assert (channel.key, channel.expected_count, len(channel.arrivals)) == ("shelf", 2, 1)
    lines = str(raised.value).splitlines()
    assert lines[:2] == [
        "Waited for: the shelf to hold 2 parcels",
        "Failed because the deadline passed: the shelf received 1 of 2.",
    ]
    assert lines[2].startswith("  deadline:    50 ms, elapsed ")
    assert lines[3:6] == [
        "  shelf: a shelf in memory",
        "    expected:  exactly 2",
        "    received:  1 parcel of this scenario:",
    ]


def test_a_passing_arrivals_wait_is_recorded_with_its_timing() -> None:
    shelf = Shelf([Parcel(time.monotonic(), "one")])
    with asyncbdd.scenario("arrivals"):
        expect_count(threading.Condition(), [shelf], 1, exactly=False, grace=0.0, where=None,
                     what="a parcel", seconds=5)  # fmt: skip
        [evidence] = recorded_waits()
    assert evidence.passed
    assert evidence.timeout == 5
    assert evidence.elapsed < 5


def test_a_check_of_something_already_there_opens_with_checked() -> None:
    error = checked_failure(
        "the message with amount = 10",
        "the message on the billing queue does not match",
        Mismatch(("amount: expected 10, got 99",), (("message:", '{"amount": 99}'),)),
        pattern="queue",
    )
    assert isinstance(error, ExpectationFailed)
    assert str(error).splitlines() == [
        "Checked: the message with amount = 10",
        "Failed because the message on the billing queue does not match:",
        "  amount: expected 10, got 99",
        '  message: {"amount": 99}',
    ]
    evidence = evidence_of(error)
    assert evidence is not None
    assert evidence.timeout is None


def test_a_partial_probe_is_described_as_the_call_it_stands_for() -> None:
    def order_status(order_id: str, *, source: str) -> str:
        return "pending"

    def not_yet(status: str) -> bool:
        return status == "paid"

    with pytest.raises(WaitTimeout) as caught:
        wait_until(functools.partial(order_status, "ord-1", source="db"), not_yet, timeout=0.05)
    assert "Waited for: order_status('ord-1', source='db')" in str(caught.value)
