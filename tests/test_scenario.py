"""Per-scenario state: lifecycle, placeholders, and the scenario's time budget."""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Iterator

import pytest

from asyncbdd.config import Settings, set_settings
from asyncbdd.errors import AsyncBddError, BudgetExceeded, InvalidInput, WaitTimeout
from asyncbdd.scenario import (
    Scenario,
    current_scenario,
    end_scenario,
    on_scenario_start,
    scenario,
    start_scenario,
)
from asyncbdd.wait import wait_until


@pytest.fixture(autouse=True)
def no_scenario_running() -> Iterator[None]:
    """Known settings, and no scenario left running before or after a test."""
    set_settings(Settings())
    end_scenario()
    yield
    end_scenario()
    set_settings(None)


def test_start_scenario_makes_a_current_scenario() -> None:
    """start_scenario() returns the state that current_scenario() then returns."""
    state = start_scenario("pay an order")
    assert current_scenario() is state
    assert state.name == "pay an order"
    assert state.values == {}
    assert not state.ended
    assert state.current_step is None


def test_each_scenario_gets_fresh_ids() -> None:
    """Every scenario has its own UUID correlation id and 12-hex-digit scenario id."""
    first, second = Scenario("a"), Scenario("b")
    assert first.correlation_id != second.correlation_id
    assert first.scenario_id != second.scenario_id
    assert str(uuid.UUID(first.correlation_id)) == first.correlation_id
    assert re.fullmatch(r"[0-9a-f]{12}", first.scenario_id)


def test_outside_a_scenario_current_scenario_says_how_to_start_one() -> None:
    """Asking for the scenario when none runs is an error naming both ways to start one."""
    with pytest.raises(AsyncBddError) as caught:
        current_scenario()
    message = str(caught.value)
    assert "No scenario is running." in message
    assert "install_hooks(globals())" in message
    assert "with asyncbdd.scenario(...)" in message


def test_end_scenario_ends_it_and_tolerates_no_scenario() -> None:
    """After end_scenario() none is current; ending when none runs is not an error."""
    start_scenario("a")
    end_scenario()
    end_scenario()
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_starting_a_scenario_ends_the_previous_one() -> None:
    """A scenario left running (a crashed hook) is ended when the next one starts."""
    start_scenario("first")
    second = start_scenario("second")
    assert current_scenario() is second
    end_scenario()
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_scenario_context_manager_runs_the_block_as_a_scenario() -> None:
    """with scenario(name) yields the current scenario and ends it on leaving."""
    with scenario("checkout") as state:
        assert current_scenario() is state
        assert state.name == "checkout"
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_scenario_context_manager_ends_the_scenario_when_the_block_fails() -> None:
    """An exception in the block still ends the scenario and propagates unchanged."""

    def failing_scenario() -> None:
        with scenario("checkout"):
            raise ValueError("step failed")

    with pytest.raises(ValueError, match="step failed"):
        failing_scenario()
    with pytest.raises(AsyncBddError):
        current_scenario()


def test_placeholders_hold_the_values_and_the_ids() -> None:
    """Placeholders are the learned values plus the correlation and scenario ids."""
    state = Scenario("a", values={"order_id": "ord-1"})
    assert state.placeholders() == {
        "order_id": "ord-1",
        "correlation_id": state.correlation_id,
        "scenario_id": state.scenario_id,
    }


def test_the_ids_cannot_be_shadowed_by_values() -> None:
    """A value named like an id does not change what {correlation_id} expands to."""
    state = Scenario("a", values={"correlation_id": "forged"})
    assert state.expand("{correlation_id}") == state.correlation_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("order {order_id}", "order ord-1"),
        ("{correlation_id}", "<cid>"),
        ("{scenario_id}-{amount}", "<sid>-99.99"),
        ('{"order_id": "{order_id}", "amount": 99.99}', '{"order_id": "ord-1", "amount": 99.99}'),
        ('{"nested": {"id": "{order_id}"}}', '{"nested": {"id": "ord-1"}}'),
        ("no placeholders here", "no placeholders here"),
        ("{ order_id }", "{ order_id }"),
        ("{1st}", "{1st}"),
        ("{}", "{}"),
        ("{order-id}", "{order-id}"),
    ],
)
def test_expand_replaces_identifier_placeholders_only(text: str, expected: str) -> None:
    """{identifier} forms are replaced; JSON braces and other brace text pass through."""
    state = Scenario("a", values={"order_id": "ord-1", "amount": 99.99})
    expected = expected.replace("<cid>", state.correlation_id).replace("<sid>", state.scenario_id)
    assert state.expand(text) == expected


def test_an_unknown_placeholder_names_it_the_text_and_the_known_ones() -> None:
    """An unknown {name} is an InvalidInput quoting the text and listing known placeholders."""
    state = Scenario("a", values={"order_id": "ord-1"})
    with pytest.raises(InvalidInput) as caught:
        state.expand('{"id": "{order}"}')
    assert str(caught.value) == (
        'Unknown placeholder {order} in \'{"id": "{order}"}\'. Known placeholders: '
        "{correlation_id}, {order_id}, {scenario_id}"
    )


def test_a_wait_longer_than_the_remaining_budget_is_rejected() -> None:
    """A wait asking for more than the budget has left fails at once, without probing."""
    calls: list[int] = []
    with scenario("budgeted", budget=0.05), pytest.raises(BudgetExceeded) as caught:
        wait_until(lambda: calls.append(1), timeout=0.2, description="the order status")
    assert calls == []
    message = str(caught.value)
    assert "Waiting for the order status may take up to 200 ms" in message
    assert "of the time budget of scenario 'budgeted'" in message
    assert "raise the budget (setting asyncbdd.scenario_budget)" in message


def test_a_wait_within_the_budget_runs() -> None:
    """A wait shorter than the remaining budget runs normally."""
    with scenario("budgeted", budget=1.0):
        assert wait_until(lambda: "paid", timeout=0.1) == "paid"


def test_the_budget_defaults_to_the_setting() -> None:
    """Without a budget argument the scenario gets setting asyncbdd.scenario_budget."""
    set_settings(Settings(scenario_budget=0.05))
    with scenario("budgeted"), pytest.raises(BudgetExceeded, match=r"\(50 ms\) remain"):
        wait_until(lambda: True, timeout=0.2)


def test_time_spent_waiting_is_taken_from_the_budget() -> None:
    """After a wait used most of the budget, a wait asking for more than is left fails."""
    with scenario("budgeted", budget=0.3):
        with pytest.raises(WaitTimeout):
            wait_until(lambda: False, timeout=0.2)
        with pytest.raises(BudgetExceeded, match="may take up to 200 ms, but only"):
            wait_until(lambda: True, timeout=0.2)


def test_the_budget_ends_with_the_scenario() -> None:
    """Once the scenario ends its budget no longer limits waits."""
    with scenario("budgeted", budget=0.01):
        pass
    assert wait_until(lambda: "paid", timeout=0.1) == "paid"


def test_a_new_scenario_gets_a_new_budget() -> None:
    """A scenario started over a running one gets its own budget, not the old one's."""
    start_scenario("tight", budget=0.01)
    start_scenario("roomy", budget=1.0)
    assert wait_until(lambda: "paid", timeout=0.1) == "paid"


def test_a_start_listener_sees_each_scenario_and_its_end_callbacks_run_in_reverse() -> None:
    """on_scenario_start listeners get every new scenario; on_end callbacks run last-first."""
    events: list[str] = []

    def listener(state: Scenario) -> None:
        events.append(f"start {state.name}")
        state.on_end(lambda: events.append(f"first registered, {state.name}"))
        state.on_end(lambda: events.append(f"last registered, {state.name}"))

    on_scenario_start(listener)
    on_scenario_start(listener)  # registering twice changes nothing
    try:
        with scenario("a"):
            events.append("inside a")
    finally:
        sys.modules["asyncbdd.scenario"]._listeners.remove(listener)
    assert events == [
        "start a",
        "inside a",
        "last registered, a",
        "first registered, a",
    ]


def test_a_provided_placeholder_is_computed_when_expanded_with_an_optional_argument() -> None:
    """{name} and {name:argument} call the scenario's provider each time they are expanded."""
    state = Scenario("a")
    urls = {"payment-complete": "http://x/1"}
    state.provide("webhook_url", lambda name: urls[name or "payment-complete"], argument="receiver")
    assert state.expand("{webhook_url} {webhook_url:payment-complete}") == "http://x/1 http://x/1"
    urls["payment-complete"] = "http://x/2"
    assert state.expand("{webhook_url}") == "http://x/2"


def test_a_provider_cannot_shadow_the_ids_but_wins_over_values() -> None:
    """The correlation and scenario ids stay the ids; a provider wins over a learned value."""
    state = Scenario("a", values={"order_id": "learned"})
    state.provide("correlation_id", lambda argument: "forged")
    state.provide("order_id", lambda argument: "provided")
    assert state.expand("{correlation_id} {order_id}") == f"{state.correlation_id} provided"


@pytest.mark.parametrize("text", ["{order_id:x}", "{correlation_id:x}", "{clock:utc}"])
def test_an_argument_to_a_placeholder_that_takes_none_is_an_error(text: str) -> None:
    """Values, ids and providers registered without an argument refuse one, saying so."""
    state = Scenario("a", values={"order_id": "ord-1"})
    state.provide("clock", lambda argument: "noon")
    name = text[1:].split(":", maxsplit=1)[0]
    with pytest.raises(InvalidInput) as caught:
        state.expand(text)
    assert str(caught.value) == (
        f"Placeholder {{{name}}} takes no argument, but {text!r} gives it one: {text}. "
        f"Write {{{name}}}."
    )


def test_an_unknown_placeholder_lists_the_provided_ones_with_their_argument() -> None:
    """The known placeholders include each provider, and its argument form when it has one."""
    state = Scenario("a")
    state.provide("webhook_url", lambda name: "http://x", argument="receiver")
    with pytest.raises(InvalidInput) as caught:
        state.expand("{webhook_uri:payment-complete}")
    assert str(caught.value) == (
        "Unknown placeholder {webhook_uri:payment-complete} in '{webhook_uri:payment-complete}'. "
        "Known placeholders: {correlation_id}, {scenario_id}, {webhook_url}, "
        "{webhook_url:receiver}"
    )


@pytest.mark.parametrize("text", ['{"a": {b: c}}', "{a: b}", "{:x}", "{a:}", '{a:"b"}'])
def test_brace_text_that_is_no_argument_form_passes_through(text: str) -> None:
    """Only {identifier:argument} with an argument right after the colon is a placeholder."""
    assert Scenario("a").expand(text) == text


def test_a_placeholder_name_must_be_an_identifier() -> None:
    """provide() refuses a name that could never be written as a placeholder."""
    with pytest.raises(InvalidInput, match="identifier, not 'webhook-url'"):
        Scenario("a").provide("webhook-url", lambda argument: "")
