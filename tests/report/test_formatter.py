"""The behave formatter: what it notes as steps finish, and how behave finds it."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from behave.configuration import Configuration
from behave.formatter import _registry as formatters
from behave.model import Feature, Scenario, Step, Table
from behave.model_core import Status

from asyncbdd.errors import WaitTimeout
from asyncbdd.report import HtmlFormatter
from asyncbdd.report.formatter import feature_report, step_report
from asyncbdd.scenario import end_scenario, start_scenario
from asyncbdd.wait import wait_until

ROOT = Path(__file__).resolve().parents[2]


class MemoryOpener:
    """A stream opener (behave's protocol) whose stream is kept for the test to read."""

    def __init__(self) -> None:
        self.name = "report.html"
        self.stream: io.StringIO | None = None
        self.written = ""

    def open(self) -> io.StringIO:
        self.stream = io.StringIO()
        return self.stream

    def close(self) -> None:
        assert self.stream is not None
        self.written = self.stream.getvalue()
        self.stream = None


def _step(keyword: str, name: str, **options: Any) -> Step:
    return Step("orders.feature", 3, keyword, keyword.lower(), name, **options)


def _finish(step: Step, status: Status, duration: float = 0.1) -> None:
    step.status = status
    step.duration = duration


def test_behave_finds_the_formatter_by_its_module_and_by_its_short_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``asyncbdd.report:HtmlFormatter`` always; ``asyncbdd.report`` through the
    ``[behave.formatters]`` entry of the behave configuration (setup.cfg here)."""
    assert formatters.select_formatter_class("asyncbdd.report:HtmlFormatter") is HtmlFormatter
    monkeypatch.chdir(ROOT)
    Configuration(["-f", "asyncbdd.report", "-o", "report.html", "--dry-run"])
    assert formatters.select_formatter_class("asyncbdd.report") is HtmlFormatter


def test_a_failure_from_behave_is_shown_with_its_secrets_masked() -> None:
    """A step's own error (not asyncbdd's evidence) is shown as behave reported it, with
    the password of a URL in it masked."""
    step = _step("Given", "the database is up")
    _finish(step, Status.failed)
    step.error_message = "OperationalError: postgresql://app:hunter2@db:5432/orders refused"

    report = step_report(step)

    assert report.failure == "OperationalError: postgresql://app:***@db:5432/orders refused"


def test_a_step_keeps_its_table_and_doc_string() -> None:
    """Tables keep their heading row first; doc strings their text."""
    step = _step("Then", "the rows are:", table=Table(["id", "qty"], rows=[["a", "1"]]))
    _finish(step, Status.passed)
    assert step_report(step).table == (("id", "qty"), ("a", "1"))
    assert step_report(_step("Given", "a body", text='{"a": 1}')).text == '{"a": 1}'


def test_steps_are_noted_as_they_finish_and_the_rest_read_at_the_end() -> None:
    """A step's outcome is kept as it finished (behave 1.2.6 reuses background steps
    between scenarios); steps that never ran are read from the feature at its end."""
    ran, never_ran = _step("Given", "an order"), _step("Then", "it ships")
    scenario = Scenario("orders.feature", 2, "Scenario", "ships", steps=[ran, never_ran])
    feature = Feature("orders.feature", 1, "Feature", "Orders", scenarios=[scenario])
    _finish(ran, Status.failed, 0.5)
    ran.error_message = "it failed"
    noted = step_report(ran)
    _finish(ran, Status.passed, 0.2)  # the same step object, run again by another scenario
    never_ran.status = Status.skipped
    scenario.set_status(Status.failed)

    report = feature_report(feature, {id(scenario): [noted]})

    (scenario_report,) = report.scenarios
    assert [(s.name, s.status) for s in scenario_report.steps] == [
        ("an order", "failed"),
        ("it ships", "skipped"),
    ]
    assert scenario_report.status == "failed"
    assert scenario_report.duration == pytest.approx(0.5)


def test_the_formatter_writes_each_step_s_waits_into_the_page() -> None:
    """Each wait that finished during a step is shown under it: a passing wait with its
    share of the deadline, the failing one with its failure text."""
    opener = MemoryOpener()
    formatter = HtmlFormatter(opener, config=None)
    passing, failing = _step("Then", "it is ready"), _step("And", "it is shipped")
    scenario = Scenario("orders.feature", 2, "Scenario", "waits", steps=[passing, failing])
    feature = Feature("orders.feature", 1, "Feature", "Orders", scenarios=[scenario])
    formatter.feature(feature)
    formatter.scenario(scenario)
    start_scenario("waits")
    try:
        wait_until(lambda: True, timeout=5, description="it is ready")
        _finish(passing, Status.passed)
        formatter.result(passing)
        with pytest.raises(WaitTimeout) as raised:
            wait_until(lambda: False, timeout=0.05, description="it is shipped")
        _finish(failing, Status.failed)
        failing.exception = raised.value
        failing.error_message = f"Assertion Failed: {raised.value}"
        formatter.result(failing)
    finally:
        end_scenario()
    scenario.set_status(Status.failed)
    formatter.eof()
    formatter.close()

    page = opener.written
    assert page.startswith("<!DOCTYPE html>")
    assert page.count('<li class="wait passed">') == 1
    assert " of 5 s (" in page
    assert page.count('<li class="wait failed">') == 1
    assert '<details class="scenario failed" open>' in page
    assert "it is shipped" in page[page.index('class="failure-text"') :]
