"""The webhook steps under behave: each phrase passes when the calls agree, and fails with
its diagnostic when they do not.

behave runs in a child process on a small project written here, whose one step of its own
plays the system under test: it calls the URL it is given, signed, with the scenario's
correlation id.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

SYSTEM_STEPS = """
import http.client
import json
import urllib.parse

from behave import when

from asyncbdd.config import get_settings
from asyncbdd.steps import *  # noqa: F403
from asyncbdd.webhooks import sign


def call(context, url, signed=True):
    state = context.asyncbdd
    parts = urllib.parse.urlsplit(state.expand(url))
    body = state.expand(context.text).encode()
    headers = {"Content-Type": "application/json", "X-Correlation-Id": state.correlation_id}
    if signed:
        headers["X-Signature"] = sign(body, get_settings().webhooks_secret)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("POST", parts.path, body=body, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


@when('the system calls "{url}" with:')
def step_call(context, url):
    call(context, url)


@when('the system calls "{url}" unsigned with:')
def step_call_unsigned(context, url):
    call(context, url, signed=False)


@when('the system calls "{url}" until it succeeds with:')
def step_call_until_success(context, url):
    for _ in range(5):
        if call(context, url) < 500:
            return
"""

FEATURE = '''
Feature: Webhook steps

  Scenario: A call is captured and its body and headers checked
    Given a webhook receiver "payment-complete"
    When the system calls "{webhook_url}" with:
      """
      {"event": "payment.completed", "order_id": "ord-1", "amount": 99.99, "status": "completed"}
      """
    Then within 5 seconds the "payment-complete" webhook receives 1 call
    And the call's JSON body contains:
      """
      {"order_id": "ord-1", "status": "completed"}
      """
    And the call has:
      | header           | value              |
      | X-Correlation-Id | "{correlation_id}" |
    And the call has:
      | field  | value |
      | amount | 99.99 |
    And the call's header "X-Correlation-Id" is "{correlation_id}"
    And the call is signed

  Scenario: A failed first call and its retry are two calls
    Given a webhook receiver "payment-complete" that fails the first call with 503
    When the system calls "{webhook_url:payment-complete}" until it succeeds with:
      """
      {"order_id": "ord-2"}
      """
    Then the "payment-complete" webhook receives 2 calls
    And the 2nd call's JSON body is:
      """
      {"order_id": "ord-2"}
      """
    And the first call has:
      | field    | value   |
      | order_id | "ord-2" |
    And the 2nd call is signed

  Scenario: Receivers that answer otherwise, and at least one call
    Given a webhook receiver "slow" that answers 202 after 100 ms
    And a webhook receiver "failing" that fails the first 2 calls with 500
    And a webhook receiver "accepting" that answers 202
    And a webhook receiver "patient" that answers after 100 ms
    When the system calls "{webhook_url:slow}" with:
      """
      {"order_id": "ord-3"}
      """
    Then within 5 seconds the "slow" webhook receives at least 1 call
    And the "slow" webhook receives at least 1 call
    And no call reaches the "accepting" webhook within 100 ms

  Scenario: A call that never comes times out
    Given a webhook receiver "payment-complete"
    Then within 1 second the "payment-complete" webhook receives 1 call

  Scenario: A call fails the negative form
    Given a webhook receiver "payment-complete"
    When the system calls "{webhook_url}" with:
      """
      {"order_id": "ord-4"}
      """
    Then no call reaches the "payment-complete" webhook within 5 seconds

  Scenario: A different body is explained
    Given a webhook receiver "payment-complete"
    When the system calls "{webhook_url}" with:
      """
      {"order_id": "ord-5", "amount": 99.99}
      """
    Then the "payment-complete" webhook receives 1 call
    And the call's JSON body contains:
      """
      {"amount": 10}
      """

  Scenario: An unsigned call fails the expectation
    Given a webhook receiver "payment-complete"
    When the system calls "{webhook_url}" unsigned with:
      """
      {"order_id": "ord-6"}
      """
    Then within 5 seconds the "payment-complete" webhook receives 1 call

  Scenario: A wrong header is named
    Given a webhook receiver "payment-complete"
    When the system calls "{webhook_url}" with:
      """
      {"order_id": "ord-7"}
      """
    Then the "payment-complete" webhook receives 1 call
    And the call's header "X-Correlation-Id" is "someone-else"
'''

PASSING = {
    "A call is captured and its body and headers checked",
    "A failed first call and its retry are two calls",
    "Receivers that answer otherwise, and at least one call",
}
MUST_FAIL = {
    "A call that never comes times out": [
        'Waited for: Then within 1 second the "payment-complete" webhook receives 1 call',
        'Failed because the deadline passed: the "payment-complete" webhook received 0 of 1.',
        "received:  no call of this scenario",
    ],
    "A call fails the negative form": [
        'Failed because a call reached the "payment-complete" webhook',
        "expected:  none",
    ],
    "A different body is explained": [
        "amount: expected 10, got 99.99",
    ],
    "An unsigned call fails the expectation": [
        'the "payment-complete" webhook received 1 call without a valid signature, '
        "answered 401 (call 1: no X-Signature header)",
    ],
    "A wrong header is named": [
        "header 'X-Correlation-Id': expected 'someone-else', got '",
    ],
}


def test_every_webhook_phrase_passes_and_fails_as_it_should(tmp_path: Path) -> None:
    """The passing scenarios pass; each must-fail one fails with its diagnostic."""
    steps = tmp_path / "features" / "steps"
    steps.mkdir(parents=True)
    (steps / "system_steps.py").write_text(SYSTEM_STEPS)
    (tmp_path / "features" / "environment.py").write_text(
        "from asyncbdd.hooks import install_hooks\n\ninstall_hooks(globals())\n"
    )
    (tmp_path / "features" / "webhooks.feature").write_text(FEATURE)
    report = tmp_path / "report.json"
    command = [sys.executable, "-m", "behave", "features", "-f", "json", "-o", str(report)]
    command += ["-f", "plain", "--no-timings", "-D", "asyncbdd.webhooks.secret=s3cret"]
    command += ["-D", "asyncbdd.grace=100 ms"]
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    completed = subprocess.run(
        command,
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    statuses = {
        element["name"]: element["status"]
        for feature in json.loads(report.read_text())
        for element in feature.get("elements", [])
    }
    output = completed.stdout + completed.stderr
    assert set(statuses) == PASSING | set(MUST_FAIL), output
    assert {name for name in PASSING if statuses[name] != "passed"} == set(), output
    assert {name for name in MUST_FAIL if statuses[name] == "passed"} == set(), output
    reports = _by_scenario(completed.stdout)
    for name, fragments in MUST_FAIL.items():
        for fragment in fragments:
            assert fragment in reports[name], f"{name}: {fragment!r} missing in\n{reports[name]}"


def _by_scenario(output: str) -> dict[str, str]:
    parts = re.split(r"^\s*Scenario: (.+)$", output, flags=re.MULTILINE)
    return {name.strip(): text for name, text in zip(parts[1::2], parts[2::2], strict=True)}
