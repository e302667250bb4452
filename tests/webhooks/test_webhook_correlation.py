"""Calls carrying another scenario's correlation id (setting asyncbdd.webhooks.correlation):
answered as usual, not counted, and listed as another scenario's in failures."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from capture_client import send

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.errors import WaitTimeout
from asyncbdd.webhooks import captures, expect_calls, expect_no_calls, webhook_receiver

Configure = Callable[..., Settings]


def test_a_call_of_another_scenario_is_answered_but_not_counted(configure: Configure) -> None:
    """Only the scenario's own calls, and calls carrying no id, count for its receiver."""
    configure(webhooks_correlation="header:X-Correlation-Id")
    with asyncbdd.scenario("own calls") as state:
        url = webhook_receiver("payment-complete").url
        other = send(url, {"n": 1}, headers={"X-Correlation-Id": "someone-else"})
        send(url, {"n": 2}, headers={"X-Correlation-Id": state.correlation_id})
        send(url, {"n": 3})
        calls = expect_calls("payment-complete", 2)
    assert other.status == 200
    assert [call.json for call in calls] == [{"n": 2}, {"n": 3}]


def test_calls_of_other_scenarios_are_listed_when_an_expectation_fails(
    configure: Configure,
) -> None:
    """A "no call" wait ignores another scenario's call; a failed expectation lists that call."""
    configure(webhooks_correlation="header:X-Correlation-Id")
    with asyncbdd.scenario("quiet"):
        url = webhook_receiver("payment-complete").url
        send(url, {"order_id": "ord-9"}, headers={"X-Correlation-Id": "someone-else"})
        expect_no_calls("payment-complete", during=0.1)
        with pytest.raises(WaitTimeout) as raised:
            expect_calls("payment-complete", 1, timeout=0.1)
    message = str(raised.value)
    assert "received:  no call of this scenario" in message
    assert (
        "  calls of other scenarios: 1 carrying another correlation id, answered but not counted:"
    ) in message
    assert 'correlation id someone-else, another scenario\'s: POST {"order_id": "ord-9"}' in message


def test_a_refused_call_of_another_scenario_keeps_the_reason_it_was_refused(
    configure: Configure,
) -> None:
    """Another scenario's call that was too large is listed as theirs, and as too large."""
    configure(webhooks_correlation="header:X-Correlation-Id", webhooks_max_body_size="16 bytes")
    with asyncbdd.scenario("refused") as state:
        url = webhook_receiver("payment-complete").url
        refused = send(url, {"padding": "x" * 32}, headers={"X-Correlation-Id": "someone-else"})
        with pytest.raises(WaitTimeout) as raised:
            expect_calls("payment-complete", 1, timeout=0.1)
    assert refused.status == 413
    assert state.correlation_id not in str(raised.value)
    assert (
        "correlation id someone-else, another scenario's; a body of 47 bytes, over the limit"
        in str(raised.value)
    )


def test_a_call_of_another_scenario_leaves_the_planned_failures_to_its_own(
    configure: Configure,
) -> None:
    """A receiver failing its first call fails the scenario's first, not another's."""
    configure(webhooks_correlation="header:X-Correlation-Id")
    with asyncbdd.scenario("retries") as state:
        url = webhook_receiver("flaky", fail_first=1).url
        own = {"X-Correlation-Id": state.correlation_id}
        statuses = [
            send(url, {"n": 1}, headers={"X-Correlation-Id": "someone-else"}).status,
            send(url, {"n": 2}, headers=own).status,
            send(url, {"n": 3}, headers=own).status,
        ]
        calls = expect_calls("flaky", 2)
    assert statuses == [200, 500, 200]
    assert [call.status for call in calls] == [500, 200]


def test_the_correlation_id_may_be_a_body_field(configure: Configure) -> None:
    """With field:PATH the id is read from the JSON body."""
    configure(webhooks_correlation="field:meta.correlation_id")
    with asyncbdd.scenario("body field") as state:
        url = webhook_receiver("payment-complete").url
        send(url, {"meta": {"correlation_id": "someone-else"}, "n": 1})
        send(url, {"meta": {"correlation_id": state.correlation_id}, "n": 2})
        [call] = expect_calls("payment-complete", 1)
    assert call.json["n"] == 2


def test_without_the_setting_every_call_to_the_receiver_counts() -> None:
    """Off (the default): the receiver's URL alone says whose a call is."""
    with asyncbdd.scenario("off"):
        url = webhook_receiver("payment-complete").url
        send(url, {"n": 1}, headers={"X-Correlation-Id": "someone-else"})
        [call] = expect_calls("payment-complete", 1)
    assert call.json == {"n": 1}


def test_a_body_nested_too_deep_carries_no_correlation_field(configure: Configure) -> None:
    """With field:PATH, a body too deep to read as JSON carries no id: answered as usual
    and counted, never answered 500."""
    configure(webhooks_correlation="field:meta.correlation_id")
    with asyncbdd.scenario("deep body"):
        url = webhook_receiver("payment-complete").url
        answer = send(url, b"[" * 100_000)
        [call] = expect_calls("payment-complete", 1)
        box = captures()
    assert answer.status == 200
    assert (call.status, call.note) == (200, None)
    assert box.errors == {}
