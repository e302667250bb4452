"""The poll engine: semantics of every option, and the exact shape of its failures.

A fake clock makes every test instant and deterministic: sleeping advances it, and the
probes compute their values from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from doubles import FakeClock

from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import BudgetExceeded, InvalidInput, WaitAborted, WaitTimeout
from asyncbdd.wait import (
    Exponential,
    Fibonacci,
    Fixed,
    Proportional,
    WaitState,
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


def timeline(clock: FakeClock, *changes: tuple[float, object]) -> Callable[[], object]:
    """A probe whose value is the last of ``changes`` whose time has come."""

    def probe() -> object:
        value: object = None
        for at, changed_to in changes:
            if clock.elapsed >= at:
                value = changed_to
        return value

    return probe


def equals(expected: object) -> Callable[[object], bool]:
    return lambda value: value == expected


def test_returns_the_value_that_satisfied_the_condition(clock: FakeClock) -> None:
    """The first value for which the condition holds is returned."""
    probe = timeline(clock, (0, "pending"), (0.3, "paid"))
    result = wait_until(probe, equals("paid"), timeout=5, clock=clock, sleep=clock.sleep)
    assert result == "paid"


def test_first_check_is_immediate(clock: FakeClock) -> None:
    """A condition already true returns without sleeping at all."""
    wait_until(lambda: True, timeout=5, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []


def test_default_strategy_sees_quick_changes_quickly(clock: FakeClock) -> None:
    """A change at 200 ms is seen within 5 % of the time waited (here 10 ms)."""
    probe = timeline(clock, (0.2, "paid"))
    wait_until(probe, equals("paid"), timeout=5, clock=clock, sleep=clock.sleep)
    assert 0.2 <= clock.elapsed <= 0.2 * 1.05


def test_default_strategy_grows_to_its_cap(clock: FakeClock) -> None:
    """Pauses start at 5 ms and grow with the time waited, never beyond max_interval."""
    set_settings(Settings(max_interval=0.5))
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, timeout=60, clock=clock, sleep=clock.sleep)
    assert clock.sleeps[0] == pytest.approx(0.005)
    assert max(clock.sleeps) == pytest.approx(0.5)
    calls_in_first_second = sum(1 for _ in _cumulative(clock.sleeps) if _ < 1)
    assert calls_in_first_second <= 100


def test_final_check_happens_at_the_deadline(clock: FakeClock) -> None:
    """A condition that becomes true exactly at the deadline still passes."""
    probe = timeline(clock, (2.0, "paid"))
    assert wait_until(
        probe, equals("paid"), timeout=2, interval=0.7, clock=clock, sleep=clock.sleep
    )
    assert clock.elapsed == pytest.approx(2.0)


def test_timeout_raises_an_assertion_error_with_the_whole_story(clock: FakeClock) -> None:
    """The timeout message states what, deadline, elapsed, attempts, last value and history."""
    probe = timeline(clock, (0, None), (0.5, "pending"), (1.5, "paid"))
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            probe,
            equals("shipped"),
            timeout=3,
            interval=Fixed(0.5),
            description='Then within 3 seconds the order status is "shipped"',
            clock=clock,
            sleep=clock.sleep,
        )
    assert isinstance(caught.value, AssertionError)
    assert str(caught.value).splitlines() == [
        'Waited for: Then within 3 seconds the order status is "shipped"',
        "Failed because the deadline passed.",
        "  deadline:    3 s, elapsed 3 s",
        "  attempts:    7, interval fixed 500 ms (last 500 ms)",
        "  last value:  'paid'",
        "  values seen:",
        "         0 ms - 0 ms       None  (1 check)",
        "       500 ms - 1,000 ms   'pending'  (2 checks)",
        "     1,500 ms - 3,000 ms   'paid'  (4 checks)",
    ]


def test_timeout_state_is_kept_on_the_error(clock: FakeClock) -> None:
    """Tools get the structured record of the wait, not only its text."""
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: 1, equals(2), timeout=1, clock=clock, sleep=clock.sleep)
    state = caught.value.state
    assert isinstance(state, WaitState)
    assert state.last_value == 1
    assert state.history[0].count == state.attempts


def test_timeout_scale_multiplies_deadlines(clock: FakeClock) -> None:
    """ASYNCBDD_TIMEOUT_SCALE=2 makes a 1 s deadline last 2 s, and the message says so."""
    set_settings(Settings(timeout_scale=2.0))
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=1, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == pytest.approx(2.0)
    assert "deadline:    2 s (x2 timeout scale)" in str(caught.value)


def test_default_timeout_comes_from_settings(clock: FakeClock) -> None:
    """Without a timeout argument the setting asyncbdd.timeout applies."""
    set_settings(Settings(timeout=4.0))
    with pytest.raises(WaitTimeout):
        wait_until(lambda: False, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == pytest.approx(4.0)


def test_ignored_exceptions_are_recorded_and_chained(clock: FakeClock) -> None:
    """Listed exceptions mean "not yet"; the last one becomes the timeout's cause."""
    attempts = iter(range(100))

    def flaky() -> int:
        attempt = next(attempts)
        raise ConnectionError(f"refused #{attempt}")

    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            flaky,
            timeout=1,
            interval=0.25,
            ignore=(ConnectionError,),
            clock=clock,
            sleep=clock.sleep,
        )
    message = str(caught.value)
    assert "last value:  (none: the probe never returned)" in message
    assert "exceptions swallowed: 5" in message
    assert "5 x ConnectionError, last at 1,000 ms: refused #4" in message
    assert isinstance(caught.value.__cause__, ConnectionError)


def test_other_exceptions_propagate_at_once(clock: FakeClock) -> None:
    """An exception not listed in ``ignore`` is a bug in the probe: it is not swallowed."""

    def broken() -> int:
        raise KeyError("status")

    with pytest.raises(KeyError):
        wait_until(broken, timeout=5, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == 0


def test_an_assertion_can_be_the_condition(clock: FakeClock) -> None:
    """A condition that raises AssertionError means "not yet"; its message is reported."""

    def is_paid(value: object) -> None:
        assert value == "paid", f"status was {value!r}"

    probe = timeline(clock, (0, "pending"))
    with pytest.raises(WaitTimeout) as caught:
        wait_until(probe, is_paid, timeout=1, clock=clock, sleep=clock.sleep)
    assert "  last assertion:\n    status was 'pending'\n" in str(caught.value)
    assert isinstance(caught.value.__cause__, AssertionError)


def test_wait_until_asserted_returns_the_assertions_result(clock: FakeClock) -> None:
    """wait_until_asserted retries an assertion until it passes and returns its value."""
    probe = timeline(clock, (0, 1), (0.1, 2))

    def at_least_two() -> object:
        value = probe()
        assert value == 2
        return value

    assert wait_until_asserted(at_least_two, timeout=1, clock=clock, sleep=clock.sleep) == 2


def test_fail_fast_stops_on_a_terminal_state(clock: FakeClock) -> None:
    """fail_if aborts at once, naming the forbidden state, without waiting out the deadline."""
    probe = timeline(clock, (0, "pending"), (0.2, "failed"))
    with pytest.raises(WaitAborted) as caught:
        wait_until(
            probe,
            equals("shipped"),
            fail_if=equals("failed"),
            timeout=10,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.elapsed < 0.25
    assert "Failed because it reached a state it must never reach: 'failed'." in str(caught.value)


def test_fail_fast_gives_the_reason_its_check_returns(clock: FakeClock) -> None:
    """Text returned by fail_if is the failure's reason, in place of the generic one."""
    probe = timeline(clock, (0, "pending"), (0.2, "failed"))
    with pytest.raises(WaitAborted) as caught:
        wait_until(
            probe,
            equals("shipped"),
            fail_if=lambda value: f"the order {value}" if value == "failed" else None,
            timeout=10,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.elapsed < 0.25
    assert "Failed because the order failed.\n" in str(caught.value)


def test_stays_fails_at_once_on_a_terminal_state(clock: FakeClock) -> None:
    """wait_stays with fail_if stops at the first forbidden value, giving its reason."""
    probe = timeline(clock, (0, "quiet"), (0.5, "alarm"))
    with pytest.raises(WaitAborted) as caught:
        wait_stays(
            probe,
            lambda _value: True,
            during=2,
            fail_if=lambda value: "the alarm went off" if value == "alarm" else None,
            interval=0.1,
            clock=clock,
            sleep=clock.sleep,
        )
    assert clock.elapsed == pytest.approx(0.5)
    assert "Failed because the alarm went off.\n  window:" in str(caught.value)


def test_at_least_fails_when_the_condition_holds_too_early(clock: FakeClock) -> None:
    """With at_least=1, a condition true at 0.3 s fails at once."""
    probe = timeline(clock, (0.3, "paid"))
    with pytest.raises(WaitAborted) as caught:
        wait_until(probe, equals("paid"), timeout=5, at_least=1, clock=clock, sleep=clock.sleep)
    assert "earlier than the minimum of 1 s" in str(caught.value)


def test_at_least_passes_when_the_condition_holds_later(clock: FakeClock) -> None:
    """With at_least=1, a condition that becomes true at 1.5 s passes."""
    probe = timeline(clock, (1.5, "paid"))
    wait_until(probe, equals("paid"), timeout=5, at_least=1, clock=clock, sleep=clock.sleep)
    assert clock.elapsed >= 1.5


def test_hold_requires_the_condition_to_keep_holding(clock: FakeClock) -> None:
    """hold=2: true from 1 s to 3.5 s passes at 3 s, two seconds after it first held."""
    probe = timeline(clock, (1, "paid"), (3.5, "shipped"))
    wait_until(
        probe, equals("paid"), timeout=5, hold=2, interval=0.25, clock=clock, sleep=clock.sleep
    )
    assert clock.elapsed == pytest.approx(3.0)


def test_hold_restarts_when_the_condition_breaks(clock: FakeClock) -> None:
    """hold=2: true 1-2 s, false at 2.5 s, true again from 3 s cannot fit before 4.5 s."""
    probe = timeline(clock, (1, "paid"), (2.5, "pending"), (3, "paid"))
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            probe,
            equals("paid"),
            timeout=4.5,
            hold=2,
            interval=0.25,
            clock=clock,
            sleep=clock.sleep,
        )
    assert "it held for only 1.50 s of the required 2 s" in str(caught.value)


def test_hold_longer_than_the_deadline_is_rejected(clock: FakeClock) -> None:
    """A hold window that cannot fit in the deadline is an input error, not a wait."""
    with pytest.raises(InvalidInput, match="hold window"):
        wait_until(lambda: True, timeout=1, hold=2, clock=clock, sleep=clock.sleep)


def test_stays_passes_when_the_condition_holds_throughout(clock: FakeClock) -> None:
    """wait_stays checks until the end of the window and returns the last value."""
    assert wait_stays(
        lambda: "pending", equals("pending"), during=2, clock=clock, sleep=clock.sleep
    )
    assert clock.elapsed == pytest.approx(2.0)


def test_stays_fails_at_the_first_check_that_breaks(clock: FakeClock) -> None:
    """wait_stays fails when the condition stops holding, without waiting out the window."""
    probe = timeline(clock, (0, "pending"), (1.2, "paid"))
    with pytest.raises(WaitAborted) as caught:
        wait_stays(probe, equals("pending"), during=2, interval=0.1, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == pytest.approx(1.2)
    assert "stopped holding after 1.20 s of the required 2 s" in str(caught.value)


def test_stays_fails_at_once_when_false_at_the_start(clock: FakeClock) -> None:
    """wait_stays does not wait for the condition to become true first."""
    with pytest.raises(WaitAborted):
        wait_stays(lambda: "paid", equals("pending"), during=2, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == 0


def test_stays_window_is_not_scaled(clock: FakeClock) -> None:
    """The timeout scale stretches deadlines, not the window a condition must hold for."""
    set_settings(Settings(timeout_scale=3.0))
    wait_stays(lambda: True, bool, during=2, clock=clock, sleep=clock.sleep)
    assert clock.elapsed == pytest.approx(2.0)


def test_poll_delay_postpones_the_first_check(clock: FakeClock) -> None:
    """poll_delay sleeps once before the first check."""
    checks: list[float] = []
    wait_until(
        lambda: checks.append(clock.elapsed) or True,
        timeout=5,
        poll_delay=0.3,
        clock=clock,
        sleep=clock.sleep,
    )
    assert checks == [pytest.approx(0.3)]


def test_on_timeout_runs_once_and_its_text_is_appended(clock: FakeClock) -> None:
    """The diagnostics hook runs once, and its lines close the message."""
    calls: list[WaitState[object]] = []

    def diagnose(state: WaitState[object]) -> str:
        calls.append(state)
        return "queue depth: 3\nconsumer lag: 12"

    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=1, on_timeout=diagnose, clock=clock, sleep=clock.sleep)
    assert len(calls) == 1
    assert str(caught.value).splitlines()[-3:] == [
        "  diagnostics:",
        "    queue depth: 3",
        "    consumer lag: 12",
    ]


def test_a_broken_diagnostics_hook_does_not_hide_the_failure(clock: FakeClock) -> None:
    """If on_timeout raises, the timeout is still reported, with the hook's error."""

    def broken(state: WaitState[object]) -> str:
        raise RuntimeError("no connection")

    with pytest.raises(WaitTimeout, match="diagnostics hook failed: RuntimeError"):
        wait_until(lambda: False, timeout=1, on_timeout=broken, clock=clock, sleep=clock.sleep)


def test_long_histories_are_shortened_in_the_middle(clock: FakeClock) -> None:
    """Beyond twelve runs of values the message keeps the first and last six."""
    counter = iter(range(1000))
    with pytest.raises(WaitTimeout) as caught:
        wait_until(
            lambda: next(counter), equals(-1), timeout=1, interval=0.01, clock=clock,
            sleep=clock.sleep,
        )  # fmt: skip
    state = caught.value.state
    assert isinstance(state, WaitState)
    message = str(caught.value)
    assert f"... {state.attempts - 12} more ..." in message
    assert "  0  (1 check)" in message
    assert f"  {state.attempts - 1}  (1 check)" in message
    assert "  6  (1 check)" not in message


def test_values_are_shortened(clock: FakeClock) -> None:
    """A huge value is cut to 200 characters in the message."""
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: "x" * 5000, equals("y"), timeout=0.1, clock=clock, sleep=clock.sleep)
    last_value_line = next(line for line in str(caught.value).splitlines() if "last value" in line)
    assert last_value_line.endswith("...")
    assert len(last_value_line) < 250


def test_budget_rejects_a_wait_longer_than_what_remains() -> None:
    """Inside a time budget, a wait that cannot fit is rejected before it starts."""
    with (
        time_budget(5, "time budget of scenario 'checkout'"),
        pytest.raises(BudgetExceeded) as caught,
    ):
        wait_until(lambda: True, timeout=30, description="the order status is 'paid'")
    assert str(caught.value).startswith(
        "Waiting for the order status is 'paid' may take up to 30 s, but only"
    )
    assert "of the time budget of scenario 'checkout' (5 s) remain." in str(caught.value)


def test_budget_allows_waits_that_fit() -> None:
    """A wait shorter than the remaining budget runs normally."""
    with time_budget(5):
        assert wait_until(lambda: 7, timeout=1) == 7


@pytest.mark.parametrize(
    ("strategy", "attempts", "expected"),
    [
        (Fixed(0.5), 1, 0.5),
        (Fixed(0.5), 9, 0.5),
        (Exponential(0.01, 2), 1, 0.01),
        (Exponential(0.01, 2), 4, 0.08),
        (Exponential(0.01, 2, maximum=0.05), 10, 0.05),
        (Exponential(0.01, 2, maximum=0.05), 10_000, 0.05),
        (Fibonacci(0.01), 1, 0.01),
        (Fibonacci(0.01), 5, 0.05),
        (Fibonacci(0.01, maximum=0.03), 50, 0.03),
        (Fixed(0.1) + Exponential(0.01, 2), 2, 0.12),
        (sum([Fixed(0.1), Fixed(0.2)]), 1, 0.3),
    ],
)
def test_interval_strategies(strategy: object, attempts: int, expected: float) -> None:
    """Interval strategies compute their pause from the attempt number, without state."""
    state: WaitState[object] = WaitState("x", 1, Fixed(0), clock=lambda: 0.0, attempts=attempts)
    assert strategy(state) == pytest.approx(expected)  # type: ignore[operator]


@pytest.mark.parametrize(("elapsed", "expected"), [(0, 0.005), (1, 0.04), (10, 0.4), (100, 1.0)])
def test_proportional_interval_follows_the_time_waited(elapsed: float, expected: float) -> None:
    """The default strategy pauses 4 % of the time waited, between 5 ms and its cap."""
    state: WaitState[object] = WaitState("x", 1, Fixed(0), clock=lambda: elapsed)
    assert Proportional()(state) == pytest.approx(expected)


def test_a_plain_function_is_an_interval_strategy(clock: FakeClock) -> None:
    """Wherever a strategy is expected, a function of the state works too."""
    with pytest.raises(WaitTimeout):
        wait_until(
            lambda: False, timeout=1, interval=lambda state: 0.25, clock=clock, sleep=clock.sleep
        )
    assert clock.sleeps == [0.25] * 4


def test_state_repr_is_a_one_line_diagnosis(clock: FakeClock) -> None:
    """repr(WaitState) tells attempt, elapsed, last value and swallowed count."""
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: "pending", equals("paid"), timeout=1, interval=0.5, clock=clock,
                   sleep=clock.sleep, description="status")  # fmt: skip
    assert repr(caught.value.state) == (
        "<WaitState 'status': attempt 3, 1 s of 1 s, last value 'pending', 0 exceptions swallowed>"
    )


def _cumulative(pauses: list[float]) -> Iterator[float]:
    total = 0.0
    for pause in pauses:
        total += pause
        yield total


def test_a_minimum_longer_than_the_deadline_is_rejected(clock: FakeClock) -> None:
    """at_least beyond the deadline could never pass: an input error, not a wait."""
    with pytest.raises(InvalidInput, match="minimum time"):
        wait_until(lambda: True, timeout=1, at_least=2, clock=clock, sleep=clock.sleep)


def test_at_least_judges_a_slow_probe_by_when_it_was_called(clock: FakeClock) -> None:
    """A value read by a probe called at 0.95 s fails at_least=1 even if it returns at 1.05 s."""

    def slow_probe() -> str:
        clock.now += 0.1
        return "paid"

    with pytest.raises(WaitAborted, match="earlier than the minimum"):
        wait_until(
            slow_probe, timeout=5, at_least=1, poll_delay=0.95, clock=clock, sleep=clock.sleep
        )


def test_only_the_latest_failure_is_reported_and_chained(clock: FakeClock) -> None:
    """An assertion from an early attempt is not blamed for a timeout that later values caused."""
    calls = iter(range(1000))

    def condition(value: object) -> bool:
        if next(calls) == 0:
            raise AssertionError("boom first")
        return False

    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: "x", condition, timeout=1, clock=clock, sleep=clock.sleep)
    assert "boom first" not in str(caught.value)
    assert caught.value.__cause__ is None


def test_stays_reports_its_window_not_a_deadline(clock: FakeClock) -> None:
    """A stays failure calls its duration the window it had to hold for."""
    with pytest.raises(WaitAborted) as caught:
        wait_stays(lambda: False, bool, during=2, clock=clock, sleep=clock.sleep)
    assert "  window:      2 s, elapsed 0 ms" in str(caught.value)


def test_a_zero_interval_does_not_busy_loop(clock: FakeClock) -> None:
    """A strategy returning 0 still pauses a millisecond between checks."""
    with pytest.raises(WaitTimeout) as caught:
        wait_until(lambda: False, timeout=1, interval=Fixed(0), clock=clock, sleep=clock.sleep)
    assert caught.value.state.attempts <= 1002  # type: ignore[attr-defined]


def test_a_function_can_be_added_to_a_strategy() -> None:
    """function + strategy sums their pauses, like strategy + strategy."""
    combined = (lambda state: 0.1) + Fixed(0.2)
    state: WaitState[object] = WaitState("x", 1, Fixed(0), clock=lambda: 0.0)
    assert combined(state) == pytest.approx(0.3)
