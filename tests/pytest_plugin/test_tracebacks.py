"""A failure shows the test's line and asyncbdd's report; an error in asyncbdd keeps its
frames."""

from __future__ import annotations

import pytest
from plugin_runs import run

from asyncbdd.errors import WaitTimeout, hide_failure_frames

FAILING = """
from asyncbdd.wait import wait_until
from asyncbdd.webhooks import expect_calls

def test_a_wait():
    wait_until(lambda: 1, lambda value: value == 2, timeout=0.1, description="the answer is 2")

def test_a_webhook(webhook_receiver):
    webhook_receiver("payment-complete")
    expect_calls("payment-complete", 1, timeout=0.1)
"""


@pytest.mark.parametrize("style", ["auto", "long", "short"])
def test_a_failing_wait_shows_the_test_line_and_the_report_only(
    pytester: pytest.Pytester, style: str
) -> None:
    pytester.makepyfile(test_failing=FAILING)
    result = run(pytester, f"--tb={style}")
    result.assert_outcomes(failed=2)
    output = result.stdout.str()
    assert "/asyncbdd/" not in output  # no frame of the engine
    wait_line, webhook_line = "*test_failing.py:5: *", "*test_failing.py:9: *"
    result.stdout.fnmatch_lines(
        [
            *([wait_line] if style == "short" else []),
            "*wait_until(lambda: 1, lambda value: value == 2, timeout=0.1, *",
            "E   *WaitTimeout: Waited for: the answer is 2",
            "E   *Failed because the deadline passed.",
            *([] if style == "short" else [wait_line]),
            *([webhook_line] if style == "short" else []),
            '*expect_calls("payment-complete", 1, timeout=0.1)',
            'E   *WaitTimeout: Waited for: the "payment-complete" webhook to receive 1 call',
            *([] if style == "short" else [webhook_line]),
        ]
    )


def test_an_error_in_asyncbdd_keeps_its_frames(pytester: pytest.Pytester) -> None:
    """Not a test failure (here: an invalid argument), so the engine's frames stay."""
    pytester.makepyfile(
        test_misused="""
        from asyncbdd.wait import wait_until

        def test_a_wait():
            wait_until(lambda: 1, timeout=0.5, hold="a while")
        """
    )
    result = run(pytester, "--tb=long")
    result.assert_outcomes(failed=1)
    assert "/asyncbdd/" in result.stdout.str()
    result.stdout.fnmatch_lines(["E   *InvalidInput: *'a while'*"])


@pytest.mark.parametrize(
    ("error", "hidden"),
    [(WaitTimeout("late"), True), (AssertionError("no"), True), (KeyError("bug"), False)],
)
def test_hiding_asks_what_was_raised(error: BaseException, hidden: bool) -> None:
    """pytest calls ``__tracebackhide__`` with the ExceptionInfo of what it reports."""
    with pytest.raises(type(error)) as caught:
        raise error
    assert hide_failure_frames(caught) is hidden
