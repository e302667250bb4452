"""The poll engine never passes a broken system and never waits past its deadline.

Each test pins one way a waiter can lie: an assertion read as false, a coroutine read as
true, a value that came after the deadline, a probe that never returns, an impossible
wait accepted, a fail_if that raises, an unbounded setting. Tests with probes that block
use the real clock and release the probe in ``finally``; the rest use a fake clock.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Iterator

import pytest
from doubles import FakeClock

from asyncbdd import deadline
from asyncbdd.config import Settings, load_settings, set_settings
from asyncbdd.errors import (
    ConfigurationError,
    DatabaseTimeout,
    InvalidInput,
    WaitAborted,
    WaitTimeout,
)
from asyncbdd.probe_calls import stop_idle_workers
from asyncbdd.wait import (
    Check,
    Fixed,
    met_within,
    time_budget,
    wait_stays,
    wait_until,
    wait_until_asserted,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def default_settings() -> Iterator[None]:
    set_settings(Settings())
    yield
    set_settings(None)


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that blocked probes wait on; set at the end so no thread is left behind."""
    event = threading.Event()
    yield event
    event.set()


def is_one(value: object) -> None:
    assert value == 1, f"expected 1, got {value!r}"


# -- assertions as conditions ---------------------------------------------------------


def test_an_assertion_about_the_probes_value_passes_when_it_stops_raising(
    clock: FakeClock,
) -> None:
    """wait_until_asserted(probe, assertion) returns the value once the assertion passes."""
    values = iter([0, 0, 1])
    result = wait_until_asserted(
        lambda: next(values), is_one, timeout=1, clock=clock, sleep=clock.sleep
    )
    assert result == 1


def test_an_assertion_about_the_probes_value_reports_its_last_error(clock: FakeClock) -> None:
    """A probe-plus-assertion that never passes fails with the assertion's own words."""
    with pytest.raises(WaitTimeout) as caught:
        wait_until_asserted(lambda: 2, is_one, timeout=0.3, clock=clock, sleep=clock.sleep)
    assert "last assertion:" in str(caught.value)
    assert "expected 1, got 2" in str(caught.value)
    assert isinstance(caught.value.__cause__, AssertionError)


def test_an_assertion_given_as_a_condition_is_explained(clock: FakeClock) -> None:
    """A condition that asserts and returns None is false, and the failure says where it
    belongs instead of only "last value: 1"."""
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: 1, is_one, timeout=0.3, clock=clock, sleep=clock.sleep)
    assert "returned None at every check" in str(caught.value)
    assert "wait_until_asserted(probe, assertion)" in str(caught.value)


# -- coroutines -----------------------------------------------------------------------


def test_an_async_assertion_is_awaited_not_taken_as_true() -> None:
    """An async def assertion that always fails makes the wait fail, not pass in 0 s."""
    calls = []

    async def check() -> None:
        calls.append(1)
        raise AssertionError("not yet")

    with pytest.raises(WaitTimeout) as caught:
        wait_until_asserted(check, timeout=0.2)
    assert calls
    assert "not yet" in str(caught.value)


def test_async_probes_and_conditions_are_awaited() -> None:
    """An async probe's value and an async condition's verdict are what the wait judges."""
    values = iter(["pending", "pending", "paid"])

    async def status() -> str:
        return next(values)

    async def is_paid(value: str) -> bool:
        return value == "paid"

    assert wait_until(status, is_paid, timeout=2, interval=0.001) == "paid"


def test_an_async_probe_that_never_completes_is_cancelled_at_the_deadline() -> None:
    """A coroutine still pending at the deadline is cancelled there, and the wait ends then."""
    cancelled = threading.Event()

    async def never() -> bool:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()
        return True

    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"(still running|was cancelled) at the deadline's end"):
        wait_until(never, timeout=0.2)
    assert time.monotonic() - started < 0.2 + 0.1
    assert cancelled.wait(1)


def test_a_coroutine_inside_a_running_loop_is_refused_naming_the_fix() -> None:
    """A sync wait started in a running event loop refuses a coroutine it would block."""

    async def status() -> str:
        return "paid"

    async def scenario() -> None:
        with pytest.raises(
            InvalidInput, match=r"running event loop.*await asyncbdd\.aio\.wait_until"
        ):
            wait_until(status, timeout=1)

    asyncio.run(scenario())


# -- slow and hung probes -------------------------------------------------------------


def test_a_value_read_after_the_deadline_does_not_pass(clock: FakeClock) -> None:
    """A probe called before the deadline whose true value comes after it is a failure."""

    def slow() -> bool:
        clock.now += 1.0
        return True

    with pytest.raises(WaitTimeout, match="after the deadline, and a value read late"):
        wait_until(slow, timeout=0.2, clock=clock, sleep=clock.sleep)


def test_a_late_value_does_not_pass_in_the_callers_thread_either(clock: FakeClock) -> None:
    """Checks run in the caller's thread judge late values the same way."""

    def slow() -> bool:
        clock.now += 1.0
        return True

    with pytest.raises(WaitTimeout, match="read late does not pass"):
        wait_until(slow, timeout=0.2, in_caller_thread=True, clock=clock, sleep=clock.sleep)


def test_a_slow_probe_ends_the_wait_at_the_deadline(release: threading.Event) -> None:
    """A probe that takes 1 s to say True does not pass a 0.2 s wait, and the wait ends at
    its deadline saying the check was still running."""

    def slow() -> bool:
        release.wait(1.0)
        return True

    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(slow, timeout=0.2)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 0.3
    assert "check 1 was still running at the deadline's end: it had run for" in str(caught.value)


def test_a_probe_that_never_returns_cannot_hang_the_wait(release: threading.Event) -> None:
    """A probe blocked forever ends the wait at its deadline, with the values seen before."""
    calls = []

    def hangs_on_the_third_call() -> str:
        calls.append(1)
        if len(calls) >= 3:
            release.wait()
        return "pending"

    started = time.monotonic()
    with pytest.raises(WaitTimeout) as caught:
        wait_until(hangs_on_the_third_call, lambda v: v == "paid", timeout=0.3, interval=0.01)
    assert time.monotonic() - started < 0.3 + 0.1
    assert "still running" in str(caught.value)
    assert "'pending'  (2 checks)" in str(caught.value)


def test_a_stay_whose_last_check_hangs_is_not_confirmed(release: threading.Event) -> None:
    """wait_stays does not pass on a window whose last check never answered."""
    calls = []

    def hangs_late() -> bool:
        calls.append(1)
        if len(calls) >= 2:
            release.wait()
        return True

    with pytest.raises(WaitTimeout, match="still running 250 ms after the window's end"):
        wait_stays(hangs_late, bool, during=0.2, interval=0.05)


def test_a_slow_probe_keeps_the_callers_context(clock: FakeClock) -> None:
    """Checks in the worker thread see the caller's context: its time budget, for one."""
    with time_budget(100, "outer budget") as budget:
        seen = wait_until(lambda: budget.remaining, timeout=1, clock=clock, sleep=clock.sleep)
    assert 0 < seen <= 100


# -- impossible waits -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"hold": 0.2}, "hold window (200 ms) is as long as the deadline"),
        ({"at_least": 0.2}, "minimum time (200 ms) is as long as the deadline"),
        ({"poll_delay": 0.2}, "poll delay (200 ms) is as long as the deadline"),
        ({"poll_delay": 5}, "poll delay (5 s) is longer than the deadline"),
        ({"interval": 0.2}, "interval (200 ms) is not shorter than the deadline"),
        ({"interval": math.inf}, "cannot be negative, NaN or infinite"),
        ({"poll_delay": math.inf}, "cannot be negative, NaN or infinite"),
        ({"hold": math.nan}, "cannot be negative, NaN or infinite"),
    ],
)
def test_impossible_waits_are_refused_before_they_start(
    clock: FakeClock, options: dict[str, object], fragment: str
) -> None:
    """A window, delay or interval that leaves no time before the deadline is an input error."""
    with pytest.raises(InvalidInput) as caught:
        wait_until(lambda: True, timeout=0.2, clock=clock, sleep=clock.sleep, **options)  # type: ignore[arg-type]
    assert fragment in str(caught.value)


@pytest.mark.parametrize("timeout", [0, math.inf, math.nan, -1])
def test_a_timeout_must_be_finite_and_longer_than_zero(timeout: float) -> None:
    """A wait of no time can never read a value in time; an infinite one can never fail."""
    with pytest.raises(InvalidInput):
        wait_until(lambda: True, timeout=timeout)


def test_a_strategy_that_returns_no_pause_is_refused(clock: FakeClock) -> None:
    """An interval strategy returning NaN or infinity stops the wait naming the strategy."""
    with pytest.raises(InvalidInput, match="returned nan as the pause before check 2"):
        wait_until(
            lambda: False,
            timeout=1,
            interval=lambda state: math.nan,
            clock=clock,
            sleep=clock.sleep,
        )


def test_a_hold_shorter_than_the_deadline_still_works(clock: FakeClock) -> None:
    """The edge is exclusive: a hold just under the deadline can pass."""
    assert wait_until(
        lambda: True, timeout=1, hold=0.9, interval=0.1, clock=clock, sleep=clock.sleep
    )


# -- fail_if, descriptions ------------------------------------------------------------


def test_a_fail_if_that_raises_gives_the_wait_report(clock: FakeClock) -> None:
    """A broken fail_if stops the wait with the standard report and its exception chained."""

    def broken(value: object) -> bool:
        raise ValueError("no such status")

    with pytest.raises(WaitAborted) as caught:
        wait_until(
            lambda: "pending",
            lambda v: v == "paid",
            timeout=1,
            fail_if=broken,
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(caught.value)
    assert "Failed because its fail_if check raised ValueError: no such status." in message
    assert "last value:  'pending'" in message
    assert isinstance(caught.value.__cause__, ValueError)


def test_a_lambda_is_described_by_its_source(clock: FakeClock) -> None:
    """A lambda probe reads as its own text, not "<lambda>"."""
    status = {"order": "pending"}
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: status["order"] == "paid", timeout=0.1, clock=clock, sleep=clock.sleep)
    assert 'Waited for: lambda: status["order"] == "paid"' in str(caught.value)


def test_lambdas_on_one_line_are_told_apart(clock: FakeClock) -> None:
    """Of two lambdas on one line, the probe's own text is shown."""
    probe, other = (lambda: 1), (lambda: 2)
    with pytest.raises(WaitTimeout) as caught:
        wait_until(other, lambda v: v == 3, timeout=0.1, clock=clock, sleep=clock.sleep)
    assert "Waited for: lambda: 2" in str(caught.value)
    assert probe() == 1


# -- unbounded settings ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("asyncbdd.timeout", "inf"),
        ("asyncbdd.timeout", "nan"),
        ("asyncbdd.grace", "inf"),
        ("asyncbdd.scenario_budget", "inf"),
        ("asyncbdd.settle", "nan"),
        ("asyncbdd.timeout_scale", "1e308"),
        ("asyncbdd.timeout_scale", "inf"),
    ],
)
def test_unbounded_settings_are_refused(key: str, value: str) -> None:
    """A setting that would make waits unbounded is a ConfigurationError naming it."""
    with pytest.raises(ConfigurationError, match=key.replace(".", r"\.")):
        load_settings(overrides={key: value})


@pytest.mark.parametrize(
    "changes",
    [{"timeout": math.inf}, {"grace": math.nan}, {"scenario_budget": math.inf},
     {"timeout_scale": 1e308}],
)  # fmt: skip
def test_settings_made_in_python_are_checked_too(changes: dict[str, float]) -> None:
    """Settings(...) built directly refuses unbounded values as the loader does."""
    with pytest.raises(ConfigurationError, match="is invalid"):
        Settings(**changes)  # type: ignore[arg-type]


# -- what the peers have --------------------------------------------------------------


def test_exceptions_can_be_ignored_by_predicate(clock: FakeClock) -> None:
    """ignore= may be a predicate: matching exceptions mean "not yet", others propagate."""
    attempts = iter([OSError("connection refused"), OSError("connection refused"), "up"])

    def probe() -> str:
        outcome = next(attempts)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert (
        wait_until(
            probe,
            timeout=1,
            ignore=lambda error: "refused" in str(error),
            clock=clock,
            sleep=clock.sleep,
        )
        == "up"
    )
    with pytest.raises(OSError, match="disk full"):
        wait_until(
            lambda: (_ for _ in ()).throw(OSError("disk full")),
            timeout=1,
            ignore=lambda error: "refused" in str(error),
            clock=clock,
            sleep=clock.sleep,
        )


def test_every_check_is_reported_to_the_listener(clock: FakeClock) -> None:
    """on_check sees each check's value, verdict and timing, in order."""
    values = iter(["a", "b", "c"])
    seen: list[Check[str]] = []
    wait_until(
        lambda: next(values),
        lambda v: v == "c",
        timeout=1,
        interval=0.1,
        on_check=seen.append,
        clock=clock,
        sleep=clock.sleep,
    )
    assert [(c.attempt, c.value, c.satisfied) for c in seen] == [
        (1, "a", False),
        (2, "b", False),
        (3, "c", True),
    ]
    assert [round(c.started, 3) for c in seen] == [0, 0.1, 0.2]


def test_a_soft_wait_says_whether_it_was_met(clock: FakeClock) -> None:
    """met_within returns a false outcome with the failure instead of raising."""
    missed = met_within(lambda: 1, lambda v: v == 2, timeout=0.5, clock=clock, sleep=clock.sleep)
    assert not missed
    assert missed.value == 1
    assert isinstance(missed.failure, WaitTimeout)
    met = met_within(lambda: 2, lambda v: v == 2, timeout=0.5, clock=clock, sleep=clock.sleep)
    assert met
    assert met.value == 2


def test_a_wait_can_be_limited_to_a_number_of_checks(clock: FakeClock) -> None:
    """max_checks fails the wait after that many checks, before the deadline."""
    with pytest.raises(WaitTimeout, match="within the 3 checks allowed") as caught:
        wait_until(lambda: False, timeout=60, max_checks=3, clock=clock, sleep=clock.sleep)
    assert caught.value.state.attempts == 3  # type: ignore[attr-defined]


def test_waits_reuse_their_workers_and_leave_no_thread_behind() -> None:
    """Waits one after another share one pooled worker thread, and stopping the idle
    workers (as the end of a run does) gives back every thread."""
    stop_idle_workers()
    before = threading.active_count()
    for _ in range(5):
        wait_until(lambda: True, timeout=1)
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, timeout=0.05)
    assert threading.active_count() <= before + 1
    stop_idle_workers()
    assert wait_until(lambda: threading.active_count() == before, timeout=1, in_caller_thread=True)


def test_a_hung_worker_is_not_reused(release: threading.Event) -> None:
    """The worker of a check still running at a deadline is not given to the next wait."""
    with pytest.raises(WaitTimeout):
        wait_until(release.wait, timeout=0.05)
    assert wait_until(lambda: "answered", timeout=1) == "answered"


def test_a_probe_not_callable_is_refused(clock: FakeClock) -> None:
    """A value passed where a probe belongs is an input error, not a wait on its truth."""
    with pytest.raises(InvalidInput, match="must be callable"):
        wait_until(True, timeout=1, clock=clock, sleep=clock.sleep)  # type: ignore[arg-type]


def test_the_hold_edge_is_documented_by_a_clear_refusal_of_fixed_intervals(
    clock: FakeClock,
) -> None:
    """A fixed interval just under the deadline is still accepted."""
    assert wait_until(lambda: True, timeout=1, interval=Fixed(0.99), clock=clock, sleep=clock.sleep)


def test_a_database_call_stopped_at_the_deadline_fails_the_wait_with_its_report() -> None:
    """A probe's database call stopped as the deadline comes (DatabaseTimeout, as
    :func:`asyncbdd.database.connect` raises it) fails the wait as a timeout, with its
    report, not with the database's error alone."""
    reads = []

    def order_status() -> str:
        reads.append(1)
        if len(reads) == 1:
            return "pending"
        left = deadline.time_left()
        assert left is not None
        threading.Event().wait(max(left - 0.005, 0))  # the call ran into the deadline
        raise DatabaseTimeout("the call was stopped at the wait's deadline after 300 ms")

    with pytest.raises(WaitTimeout) as caught:
        wait_until(order_status, lambda status: status == "paid", timeout=0.3)
    report = str(caught.value)
    assert "was stopped at the deadline's end: the call was stopped" in report
    assert "last value:  'pending'" in report
    assert isinstance(caught.value.__cause__, DatabaseTimeout)
