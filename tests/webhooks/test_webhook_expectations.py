"""Expectations on webhook calls: exactly N with a grace window, at least, none, matchers,
"the call", signatures, masking, and the failure reports."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from capture_client import send

import asyncbdd
from asyncbdd.config import Settings
from asyncbdd.content import MAX_JSON_DEPTH, NOT_JSON, read_json
from asyncbdd.errors import (
    AsyncBddError,
    ConfigurationError,
    ExpectationFailed,
    InvalidInput,
    UnknownName,
    WaitTimeout,
)
from asyncbdd.matching import parse_marker
from asyncbdd.webhooks import (
    CallMatcher,
    Signature,
    assert_call,
    check_signature,
    expect_calls,
    expect_no_calls,
    latest_call,
    mask,
    sign,
    webhook_receiver,
    webhook_url,
)

Configure = Callable[..., Settings]
PAID = {"event": "payment.completed", "order_id": "ord-1", "amount": 99.99, "status": "completed"}


def test_exactly_n_returns_the_calls_once_the_grace_window_is_quiet() -> None:
    """N calls and no more within the grace window: the calls are returned in order."""
    with asyncbdd.scenario("exactly"):
        url = webhook_receiver("payment-complete").url
        send(url, {"n": 1})
        send(url, {"n": 2})
        started = time.monotonic()
        calls = expect_calls("payment-complete", 2, grace=0.3)
        elapsed = time.monotonic() - started
    assert [call.json for call in calls] == [{"n": 1}, {"n": 2}]
    assert elapsed < 2


def test_a_call_within_the_grace_window_fails_exactly_n(configure: Configure) -> None:
    """One call more than expected, within the grace window, fails and says when it came."""
    configure(grace="2 seconds")
    with asyncbdd.scenario("one too many"):
        url = webhook_receiver("payment-complete").url
        send(url, {"n": 1})
        send(url, {"n": 2})
        with pytest.raises(WaitTimeout) as raised:
            expect_calls("payment-complete", 1)
    lines = str(raised.value).splitlines()
    assert lines[0] == 'Waited for: the "payment-complete" webhook to receive 1 call'
    assert lines[1].startswith(
        'Failed because the "payment-complete" webhook received 2, more than the 1 expected '
        "(the extra one arrived "
    )
    assert lines[1].endswith("after the 1st, within the 2 s grace window).")
    assert "    expected:  exactly 1" in lines
    assert "    received:  2 calls of this scenario:" in lines


def test_at_least_n_accepts_more() -> None:
    """ "At least" returns once N are in, and more calls are fine."""
    with asyncbdd.scenario("at least"):
        url = webhook_receiver("payment-complete").url
        for number in range(3):
            send(url, {"n": number})
        calls = expect_calls("payment-complete", 2, exactly=False)
    assert len(calls) >= 2


def test_too_few_calls_fail_with_what_did_arrive() -> None:
    """A deadline that passes lists every call with its time, its answer and the receiver."""
    with asyncbdd.scenario("too few") as scenario:
        receiver = webhook_receiver("payment-complete", fail_first=1)
        send(receiver.url, PAID)
        with pytest.raises(WaitTimeout) as raised:
            expect_calls(
                "payment-complete",
                2,
                timeout=0.2,
                description='Then within 200 ms the "payment-complete" webhook receives 2 calls',
            )
    lines = str(raised.value).splitlines()
    assert lines[:2] == [
        'Waited for: Then within 200 ms the "payment-complete" webhook receives 2 calls',
        'Failed because the deadline passed: the "payment-complete" webhook received 1 of 2.',
    ]
    assert lines[2].startswith("  deadline:    200 ms, elapsed ")
    assert lines[3] == (
        f"  payment-complete: webhook receiver at http://127.0.0.1:{receiver.url.split(':')[2]}"
        " (answers 200, fails the first call with 500)"
    )
    assert scenario.scenario_id in lines[3]
    assert lines[4:6] == ["    expected:  exactly 2", "    received:  1 call of this scenario:"]
    assert lines[6].startswith("      1. ")
    assert lines[6].endswith(f"  POST {json.dumps(PAID)}")
    assert lines[7] == "           answered 500: the receiver fails the first call"


def test_no_call_at_all_says_so_and_lists_stray_calls() -> None:
    """With nothing received the report says so, and lists calls to other paths."""
    with asyncbdd.scenario("nothing"):
        url = webhook_receiver("payment-complete").url
        send(url + "d", {"misdirected": True})
        with pytest.raises(WaitTimeout) as raised:
            expect_calls("payment-complete", 1, timeout=0.1)
    message = str(raised.value)
    assert "    received:  no call of this scenario" in message
    assert (
        "  stray calls while the scenario ran: 1 to paths of no receiver of this scenario, "
        "answered 404:"
    ) in message
    assert "no receiver at this path: POST /hooks/" in message
    assert '/payment-completed {"misdirected": true}' in message


def test_the_negative_form_fails_at_the_first_call_without_waiting_out_the_window() -> None:
    """A call that arrives while watching fails "no call within" at once, saying when."""
    with asyncbdd.scenario("quiet"):
        url = webhook_receiver("payment-complete").url
        caller = threading.Thread(target=send, args=(url, PAID))
        started = time.monotonic()
        caller.start()
        with pytest.raises(WaitTimeout) as raised:
            expect_no_calls("payment-complete", during=5)
        elapsed = time.monotonic() - started
        caller.join(10)
    message = str(raised.value)
    assert message.startswith('Waited for: no call on the "payment-complete" webhook\n')
    assert 'Failed because a call reached the "payment-complete" webhook ' in message
    assert "  window:      5 s, elapsed " in message
    assert "    expected:  none" in message
    assert elapsed < 4


def test_a_call_before_the_window_fails_the_negative_form_too() -> None:
    """A call of the scenario from before the window began means the system was not quiet."""
    with asyncbdd.scenario("not quiet"):
        send(webhook_receiver("payment-complete").url, PAID)
        with pytest.raises(WaitTimeout, match="before the window began"):
            expect_no_calls("payment-complete", during=5)


def test_the_negative_form_passes_when_quiet_and_a_count_of_zero_is_it() -> None:
    """No call within the window passes; expecting 0 calls is the same check."""
    with asyncbdd.scenario("quiet"):
        webhook_receiver("payment-complete")
        expect_no_calls("payment-complete", during=0.1)
        assert expect_calls("payment-complete", 0, timeout=0.1) == []


def test_a_matcher_counts_only_matching_calls_and_explains_the_others() -> None:
    """Calls that do not match are listed with each difference under them."""
    with asyncbdd.scenario("matching"):
        url = webhook_receiver("payment-complete").url
        send(url, {**PAID, "amount": 10})
        send(url, PAID)
        where = CallMatcher(fields={"amount": 99.99})
        [call] = expect_calls("payment-complete", 1, where=where)
        assert call.json == PAID
        failed = CallMatcher(body={"status": "failed"})
        with pytest.raises(WaitTimeout) as raised:
            expect_calls("payment-complete", 1, where=failed, timeout=0.2)
    message = str(raised.value)
    assert '    expected:  exactly 1 with containing \'{"status": "failed"}\'' in message
    assert "    received:  2 calls of this scenario, 0 matching:" in message
    assert "           status: expected 'failed', got 'completed'" in message


def test_method_path_query_and_headers_are_matched() -> None:
    """Each part of a call matcher names what differs; headers in any case, values as text."""
    with asyncbdd.scenario("parts"):
        url = webhook_receiver("payment-complete").url
        send(url + "/orders/ord-1?attempt=2", PAID, headers={"X-Attempt": "2"})
        expect_calls("payment-complete", 1)
        matching = CallMatcher(
            method="post",
            path="/orders/ord-1",
            query={"attempt": "2"},
            headers={"x-attempt": "2", "content-type": "application/json"},
        )
        assert_call(matching)
        wrong = CallMatcher(
            method="PUT",
            path="/orders/ord-2",
            query={"attempt": parse_marker("<regex:[13]>")},
            headers={"X-Missing": "yes"},
        )
        with pytest.raises(ExpectationFailed) as raised:
            assert_call(wrong)
    assert str(raised.value).splitlines()[1:6] == [
        'Failed because the call to the "payment-complete" webhook does not match:',
        "  method: expected PUT, got POST",
        "  path below the receiver's URL: expected '/orders/ord-2', got '/orders/ord-1'",
        "  query parameter 'attempt': expected <regex:[13]>, got '2'",
        "  header 'X-Missing': missing (expected 'yes')",
    ]


def test_a_table_builds_a_matcher_of_fields_headers_or_query() -> None:
    """| field |, | header | and | query | tables match the body, headers and query."""
    fields = CallMatcher.from_table(["field", "value"], [["order_id ", '"ord-1"']])
    assert fields == CallMatcher(fields={"order_id": "ord-1"})
    headers = CallMatcher.from_table(["Header", "value"], [["X-Correlation-Id", "cid"]])
    assert headers == CallMatcher(headers={"X-Correlation-Id": "cid"})
    query = CallMatcher.from_table(["query", "value"], [["attempt", "1"]])
    assert query == CallMatcher(query={"attempt": "1"})
    with pytest.raises(InvalidInput, match=r"not \| attribute \| value \|"):
        CallMatcher.from_table(["attribute", "value"], [])


def test_a_mistyped_marker_fails_before_any_call_comes() -> None:
    """A malformed marker in a field, header or query row is named at once."""
    with pytest.raises(InvalidInput, match=r"^In the expected field 'amount': Malformed marker"):
        CallMatcher.from_table(["field", "value"], [["amount", "<near:lots>"]])
    with pytest.raises(InvalidInput, match=r"^In the expected header 'X-Id': Unknown marker"):
        CallMatcher.from_table(["header", "value"], [["X-Id", "<anything>"]])
    with pytest.raises(InvalidInput, match=r"^In the expected query parameter 'attempt': "):
        CallMatcher.from_table(["query", "value"], [["attempt", "<regex:[>"]])


@pytest.mark.parametrize("count", [-1, "two"])
def test_a_count_that_is_no_whole_number_is_named(count: object) -> None:
    """A negative or non-integer count is an error naming it, not a TypeError."""
    with asyncbdd.scenario("bad count"), pytest.raises(InvalidInput) as raised:
        expect_calls("payment-complete", count)  # type: ignore[arg-type]
    assert str(raised.value).startswith(
        f"A call count is a whole number, 0 or more; got {count!r}."
    )


def test_the_call_and_the_nth_call_are_those_of_the_latest_expectation() -> None:
    """ "The call" is the first call the latest expectation returned, "the 2nd" the second."""
    with asyncbdd.scenario("nth"):
        url = webhook_receiver("payment-complete").url
        send(url, {"attempt": 1})
        send(url, {"attempt": 2})
        calls = expect_calls("payment-complete", 2)
        assert latest_call() is calls[0]
        assert assert_call(CallMatcher(body={"attempt": 2}), nth=2) is calls[1]
        with pytest.raises(ExpectationFailed) as raised:
            assert_call(CallMatcher(body={"attempt": 1}, exact_body=True), nth=2)
        with pytest.raises(AsyncBddError) as missing:
            latest_call(3)
    assert str(raised.value).splitlines()[:3] == [
        "Checked: the 2nd call with exactly '{\"attempt\": 1}'",
        'Failed because the 2nd call to the "payment-complete" webhook does not match:',
        "  attempt: expected 1, got 2",
    ]
    assert str(missing.value).startswith(
        "The latest webhook expectation returned 2 calls, so there is no 3rd call to check."
    )


def test_the_call_before_any_expectation_is_an_error() -> None:
    """Asking for "the call" before a step waited for calls names the step to add."""
    with asyncbdd.scenario("no call yet"):
        webhook_receiver("payment-complete")
        with pytest.raises(AsyncBddError) as raised:
            assert_call(CallMatcher(body={}))
        expect_no_calls("payment-complete", during=0.05)
        with pytest.raises(AsyncBddError, match="returned no call, so there is no call"):
            latest_call()
    assert str(raised.value).startswith(
        'No webhook expectation has run in this scenario yet, so there is no "the call"'
    )


def test_an_undeclared_receiver_is_named_with_the_declared_ones() -> None:
    """Waiting on a receiver the scenario did not declare names it and how to declare it."""
    with asyncbdd.scenario("undeclared"):
        webhook_receiver("payment-complete")
        with pytest.raises(UnknownName) as raised:
            expect_calls("payment-completed", 1)
    message = str(raised.value)
    assert "No webhook receiver named 'payment-completed' is registered." in message
    assert "Did you mean 'payment-complete'?" in message
    assert "'Given a webhook receiver \"payment-complete\"'" in message


def test_a_validly_signed_call_passes_and_is_signed(configure: Configure) -> None:
    """With a secret, a call signed sha256=<hex HMAC of the raw body> is valid."""
    configure(webhooks_secret="s3cret")
    body = json.dumps(PAID).encode()
    with asyncbdd.scenario("signed"):
        url = webhook_receiver("payment-complete").url
        answer = send(url, body, headers={"X-Signature": sign(body, "s3cret")})
        [call] = expect_calls("payment-complete", 1)
        assert_call(CallMatcher(signed=True))
    assert answer.status == 200
    assert call.signature is Signature.VALID


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "no X-Signature header"),
        ({"X-Signature": "sha256=00ff"}, "X-Signature does not match the HMAC-SHA256 of the body"),
        ({"X-Signature": "00ff"}, "X-Signature is not of the form sha256=<hex>"),
    ],
)
def test_a_call_without_a_valid_signature_is_answered_401_and_fails_at_once(
    configure: Configure, headers: dict[str, str], reason: str
) -> None:
    """A missing or wrong signature is answered 401 and fails the expectation, naming it."""
    configure(webhooks_secret="s3cret")
    with asyncbdd.scenario("unsigned"):
        url = webhook_receiver("payment-complete").url
        answer = send(url, PAID, headers=headers)
        started = time.monotonic()
        with pytest.raises(WaitTimeout) as raised:
            expect_calls("payment-complete", 2, timeout=5)
        elapsed = time.monotonic() - started
    assert answer.status == 401
    lines = str(raised.value).splitlines()
    assert lines[1] == (
        'Failed because the "payment-complete" webhook received 1 call without a valid '
        f"signature, answered 401 (call 1: {reason})."
    )
    assert f"           answered 401: {reason}" in lines
    assert "checks the X-Signature signature)" in lines[3]
    assert elapsed < 2


def test_the_signature_header_and_algorithm_are_settings(configure: Configure) -> None:
    """The header name and hash come from the settings; a receiver may have its own secret."""
    configure(
        webhooks_signature_header="X-Hub-Signature-512",
        webhooks_signature_algorithm="sha512",
    )
    body = b'{"order_id": "ord-1"}'
    with asyncbdd.scenario("sha512"):
        url = webhook_receiver("payment-complete", secret="per-receiver").url
        signature = sign(body, "per-receiver", "sha512")
        send(url, body, headers={"X-Hub-Signature-512": signature})
        [call] = expect_calls("payment-complete", 1)
    assert signature.startswith("sha512=")
    assert call.signature is Signature.VALID


def test_the_call_is_signed_needs_a_secret() -> None:
    """Checking a signature nobody configured a secret for says which setting to set."""
    with asyncbdd.scenario("no secret"):
        send(webhook_receiver("payment-complete").url, PAID)
        [call] = expect_calls("payment-complete", 1)
        with pytest.raises(ConfigurationError, match=r"asyncbdd\.webhooks\.secret"):
            assert_call(CallMatcher(signed=True))
    assert call.signature is Signature.UNCHECKED


def test_secrets_are_masked_in_reports(configure: Configure) -> None:
    """Authorization and signature values never appear in a failure or a call's repr."""
    configure(webhooks_secret="s3cret")
    body = json.dumps(PAID).encode()
    signature = sign(body, "s3cret")
    headers = {"Authorization": "Bearer top-secret-token", "X-Signature": signature}
    with asyncbdd.scenario("masked"):
        send(webhook_receiver("payment-complete").url, body, headers=headers)
        [call] = expect_calls("payment-complete", 1)
        wrong = CallMatcher(headers={"Authorization": "Bearer other"}, body={"amount": 1})
        with pytest.raises(ExpectationFailed) as raised:
            assert_call(wrong)
    report = str(raised.value) + repr(call)
    assert "top-secret-token" not in report
    assert signature.split("=")[1] not in report
    assert "header 'Authorization': expected 'Bearer other', got 'Bearer ***'" in report
    assert "'Authorization': 'Bearer ***'" in report
    assert "'X-Signature': 'sha256=***'" in report
    assert call.header("Authorization") == "Bearer top-secret-token"


@pytest.mark.parametrize(
    ("value", "shown"),
    [("Bearer abc", "Bearer ***"), ("sha256=abc", "sha256=***"), ("abc", "***"), ("", "***")],
)
def test_mask_keeps_only_the_scheme(value: str, shown: str) -> None:
    """A masked secret keeps its scheme or algorithm prefix and hides the rest."""
    assert mask(value) == shown


def test_webhook_url_placeholders_name_the_receivers() -> None:
    """{webhook_url} is the last declared receiver's URL; {webhook_url:name} a named one."""
    with asyncbdd.scenario("placeholders") as scenario:
        first = webhook_receiver("payment-complete").url
        second = webhook_receiver("refund-complete").url
        text = '{"a": "{webhook_url}", "b": "{webhook_url:payment-complete}"}'
        assert scenario.expand(text) == f'{{"a": "{second}", "b": "{first}"}}'
        assert webhook_url("payment-complete") == first
        with pytest.raises(UnknownName, match="No webhook receiver named 'payment'"):
            scenario.expand("{webhook_url:payment}")
        with pytest.raises(InvalidInput) as raised:
            scenario.expand("{webhook_uri}")
    assert str(raised.value).endswith(
        "Known placeholders: {correlation_id}, {scenario_id}, {webhook_url}, {webhook_url:receiver}"
    )


def test_webhook_url_without_a_receiver_says_how_to_declare_one() -> None:
    """{webhook_url} before any receiver is declared is an error naming the step to add."""
    with asyncbdd.scenario("no receiver") as scenario, pytest.raises(AsyncBddError) as raised:
        scenario.expand("{webhook_url}")
    assert str(raised.value).startswith(
        "No webhook receiver is declared in this scenario, so there is no webhook URL. "
        "Declare it first in the scenario: 'Given a webhook receiver \"payment-complete\"'"
    )


@pytest.mark.parametrize(
    "value", ["sha256=\xff\xfe", "sha256=" + "0" * 63 + "\xe9", "sh\xe5256=00ff", "sha256=zz"]
)
def test_a_signature_that_is_no_ascii_hex_is_malformed_not_an_error(value: str) -> None:
    """A signature header with non-ASCII or non-hex characters is a reason, never a TypeError."""
    reason = check_signature(value, b"{}", "s3cret", header="X-Signature")
    assert reason == "X-Signature is not of the form sha256=<hex>"


def test_a_call_refused_as_too_large_says_so_when_its_signature_is_checked(
    configure: Configure,
) -> None:
    """With a secret set, "the call is signed" on a call answered 413 says it was refused as
    too large, so its signature could not be checked, not that no secret is configured."""
    configure(webhooks_secret="s3cret", webhooks_max_body_size="16 bytes")
    body = b'{"padding": "xxxxxxxxxx"}'
    with asyncbdd.scenario("too large to check"):
        url = webhook_receiver("payment-complete").url
        answer = send(url, body, headers={"X-Signature": sign(body, "s3cret")})
        [call] = expect_calls("payment-complete", 1)
        with pytest.raises(ExpectationFailed) as raised:
            assert_call(CallMatcher(signed=True))
    assert answer.status == 413
    assert call.signature is Signature.TOO_LARGE
    assert (
        "  signature: not checked: the call was refused as too large (answered 413: a body "
        "of 25 bytes, over the limit of 16 (setting asyncbdd.webhooks.max_body_size)), so its "
        "signature could not be checked"
    ) in str(raised.value).splitlines()


@pytest.mark.parametrize(
    "matcher",
    [CallMatcher(body={"a": 1}), CallMatcher(fields={"a": 1})],
    ids=["body", "fields"],
)
def test_a_body_nested_too_deep_is_not_json_and_fails_content_checks_clearly(
    matcher: CallMatcher,
) -> None:
    """A body nested deeper than the JSON limit is recorded as not JSON with the reason, and a
    content check on it fails with ExpectationFailed, never a RecursionError."""
    with asyncbdd.scenario("deep"):
        url = webhook_receiver("deep").url
        answer = send(url, b"[" * 100_000)
        [call] = expect_calls("deep", 1)
        with pytest.raises(ExpectationFailed) as raised:
            assert_call(matcher)
    assert answer.status == 200
    assert call.json is NOT_JSON
    assert call.json_problem == f"JSON nested more than {MAX_JSON_DEPTH} levels deep"
    assert (
        f"  the body is not JSON (JSON nested more than {MAX_JSON_DEPTH} levels deep): '[[[["
    ) in str(raised.value)


def test_json_is_read_up_to_the_depth_limit_and_brackets_in_strings_do_not_nest() -> None:
    """A document exactly as deep as the limit is JSON, one level deeper is not; brackets
    inside strings count for nothing."""
    at_limit = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    deeper = "[" + at_limit + "]"
    quoted = '["' + "[{" * 5000 + '\\"]"]'
    assert read_json(at_limit).problem is None
    assert read_json(deeper) == (NOT_JSON, f"JSON nested more than {MAX_JSON_DEPTH} levels deep")
    assert read_json(quoted).document == ["[{" * 5000 + '"]']
    assert read_json("plain text") == (NOT_JSON, None)
