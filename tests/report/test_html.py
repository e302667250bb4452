"""The HTML report of a run: one self-contained page, every user text escaped."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from html import escape

from asyncbdd.evidence import Picture
from asyncbdd.report.html import render_html
from asyncbdd.report.model import (
    FeatureReport,
    RunReport,
    ScenarioReport,
    StepReport,
    WaitTiming,
)

STARTED = datetime(2026, 12, 1, 9, 30, tzinfo=timezone.utc)
TIMELINE = Picture(
    "Timeline of the order's events",
    '<svg xmlns="http://www.w3.org/2000/svg" width="400" height="80" viewBox="0 0 400 80">'
    '<text x="10" y="40" font-size="14">payment.completed</text></svg>',
)
LONG_LINE = "seen: " + ", ".join(f"'status-{n}'" for n in range(300))


def _passing(name: str = "A placed order ships") -> ScenarioReport:
    return ScenarioReport(
        keyword="Scenario",
        name=name,
        location="features/order_status.feature:7",
        status="passed",
        duration=1.25,
        steps=(
            StepReport("When", 'a customer orders 1 of product "prod-1"', "passed", 0.05),
            StepReport(
                "Then",
                'within 10 seconds the order status is "shipped"',
                "passed",
                1.2,
                waits=(WaitTiming("the order status is 'shipped'", "poll", True, 2.5, 10.0),),
            ),
        ),
    )


def _failing() -> ScenarioReport:
    return ScenarioReport(
        keyword="Scenario",
        name="A paid order goes through every step, in order",
        location="tests/report/failing_chain.feature:5",
        status="failed",
        duration=2.0,
        steps=(
            StepReport("When", "a customer orders 1", "passed", 0.1),
            StepReport(
                "Then",
                "within 2 seconds the trace for this order contains exactly, in order:",
                "failed",
                1.9,
                table=(("event_type",), ("order.created",), ("notification.sent",)),
                failure=f"Failed because the events came out of order.\n{LONG_LINE}",
                pictures=(TIMELINE,),
                waits=(WaitTiming("the trace in order", "trace", False, 1.9, 2.0),),
            ),
            StepReport("And", "the order status is shipped", "skipped", 0.0),
        ),
    )


def _run(*scenarios: ScenarioReport) -> RunReport:
    feature = FeatureReport("Orders", "features/orders.feature", ("About orders.",), scenarios)
    return RunReport(started=STARTED, seconds=42.5, features=(feature,))


def test_the_summary_counts_scenarios_by_outcome_and_gives_the_run_time() -> None:
    """The top of the page counts passed, failed and skipped scenarios and the run time."""
    skipped = ScenarioReport("Scenario", "Later", "f.feature:30", "skipped", 0.0)
    page = render_html(_run(_passing(), _passing("Another"), _failing(), skipped))

    summary = page[page.index('<header class="summary"') : page.index("</header>")]
    assert re.search(r'class="count passed"[^>]*>\s*<b>2</b> passed', summary), summary
    assert re.search(r'class="count failed"[^>]*>\s*<b>1</b> failed', summary), summary
    assert re.search(r'class="count skipped"[^>]*>\s*<b>1</b> skipped', summary), summary
    assert "42.50 s" in summary
    assert "2026-12-01" in summary


def test_a_failed_scenario_is_open_with_its_whole_failure_text_and_pictures() -> None:
    """A failed scenario opens by itself, showing its failure text uncut and its picture."""
    page = render_html(_run(_passing(), _failing()))

    opened = re.findall(r'<details class="scenario (\w+)"( open)?>', page)
    assert opened == [("passed", ""), ("failed", " open")]
    assert escape(LONG_LINE) in page  # wrapped by the style sheet, never shortened
    assert "<figure" in page
    assert TIMELINE.svg in page
    assert "Timeline of the order&#x27;s events" in page


def test_a_passing_wait_shows_how_much_of_its_deadline_it_used() -> None:
    """A passing wait shows elapsed of timeout and a bar filled to that share."""
    page = render_html(_run(_passing()))

    assert "2.50 s of 10 s" in page
    assert re.search(r'class="bar"[^>]*>\s*<span style="width: 25\.0%"', page), page


def test_every_text_from_the_features_is_escaped() -> None:
    """Step text, table cells, doc strings and names reach the page as text, not markup."""
    hostile = ScenarioReport(
        keyword="Scenario",
        name="<img src=x onerror=alert(1)>",
        location="f.feature:1",
        status="failed",
        duration=0.1,
        steps=(
            StepReport(
                "Given",
                "<script>alert('step')</script>",
                "failed",
                0.1,
                table=(("<b>column</b>",), ("a & b",)),
                text="</pre><script>alert('doc')</script>",
                failure="expected <div> & got </details>",
            ),
        ),
        tags=("<tag>",),
    )
    page = render_html(_run(hostile))

    assert "<script" not in page
    assert "<img" not in page
    assert "<b>column" not in page
    assert "&lt;script&gt;alert(&#x27;step&#x27;)&lt;/script&gt;" in page
    assert "&lt;b&gt;column&lt;/b&gt;" in page
    assert "a &amp; b" in page
    assert "expected &lt;div&gt; &amp; got &lt;/details&gt;" in page
    assert "&lt;tag&gt;" in page


def test_the_page_requests_nothing_from_outside() -> None:
    """No stylesheet, script, font or image is loaded from anywhere: the file stands alone."""
    page = render_html(_run(_passing(), _failing()))

    assert page.startswith("<!DOCTYPE html>")
    assert "<style>" in page
    assert not re.search(r"<(link|script|img|iframe)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page
    assert "url(" not in page
