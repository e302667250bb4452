"""The behave formatter that writes a run's HTML report: ``-f asyncbdd.report:HtmlFormatter``.

::

    behave -f asyncbdd.report:HtmlFormatter -o report.html -f pretty

It writes one file when the run ends. As each step finishes it notes the waits that
finished during it (:func:`asyncbdd.evidence.recorded_waits` of the running scenario)
and, for a step that failed, its failure text and its evidence's pictures; at the end
of each feature it reads the statuses and durations behave settled on. The rest of the
output is left to the other formatters of the run.

With ``asyncbdd.report = asyncbdd.report:HtmlFormatter`` under ``[behave.formatters]``
in the behave configuration, ``-f asyncbdd.report`` names it too.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from behave.formatter.base import Formatter

from asyncbdd.errors import AsyncBddError, report_problem
from asyncbdd.evidence import Evidence, Picture, evidence_of, recorded_waits
from asyncbdd.report.html import render_html
from asyncbdd.report.model import (
    FeatureReport,
    RunReport,
    ScenarioReport,
    StepReport,
    WaitTiming,
)
from asyncbdd.scenario import Scenario, current_scenario
from asyncbdd.secrets import mask_urls_in

__all__ = ["HtmlFormatter", "feature_report", "step_report", "wait_timing"]


class HtmlFormatter(Formatter):  # type: ignore[misc]  # behave is untyped
    """Writes the run as one self-contained HTML page (see :mod:`asyncbdd.report.html`)."""

    name = "asyncbdd.report"
    description = "asyncbdd's HTML report: one self-contained page, evidence pictures inline"

    def __init__(self, stream_opener: Any, config: Any) -> None:
        super().__init__(stream_opener, config)
        self._started = datetime.now().astimezone()
        self._began = time.monotonic()
        self._features: list[FeatureReport] = []
        self._feature: Any = None
        self._scenario: Any = None
        self._finished_steps: dict[int, tuple[Any, list[StepReport]]] = {}
        self._scenario_state: Scenario | None = None
        self._waits_seen = 0

    def feature(self, feature: Any) -> None:
        """A feature starts."""
        self._feature = feature

    def scenario(self, scenario: Any) -> None:
        """A scenario starts: its steps and waits are noted afresh."""
        self._scenario = scenario
        self._finished_steps[id(scenario)] = (scenario, [])
        self._scenario_state = None
        self._waits_seen = 0

    def result(self, step: Any) -> None:
        """A step finished: note it as it is now, with the waits it finished and its failure.

        Noted now, not at the feature's end: behave 1.2.6 runs the same background step
        objects in every scenario, so at the end they hold only the last one's outcome.
        """
        if self._scenario is None:
            return
        waits = self._new_waits()
        failure: str | None = None
        pictures: tuple[Picture, ...] = ()
        if _status(step) not in _NOT_FAILED:
            evidence = _evidence(step)
            failure = _failure_text(step, evidence)
            pictures, problem = _pictures(evidence)
            if problem:
                failure = f"{failure or ''}\n\n{problem}".lstrip()
        report = step_report(step, waits=waits, failure=failure, pictures=pictures)
        self._finished_steps[id(self._scenario)][1].append(report)

    def eof(self) -> None:
        """A feature ended: keep what the report shows of it."""
        if self._feature is not None:
            finished = {key: steps for key, (_, steps) in self._finished_steps.items()}
            self._features.append(feature_report(self._feature, finished))
        self._feature = self._scenario = None
        self._finished_steps.clear()

    def close(self) -> None:
        """The run ended: write the page."""
        if self._feature is not None:  # a run stopped before the feature's end
            self.eof()
        run = RunReport(
            started=self._started,
            seconds=time.monotonic() - self._began,
            features=tuple(self._features),
        )
        page = render_html(run)
        stream = self.open()
        # character references keep the page readable whatever the stream's encoding
        stream.write(page.encode("ascii", "xmlcharrefreplace").decode("ascii"))
        stream.flush()
        self.close_stream()

    def _new_waits(self) -> tuple[WaitTiming, ...]:
        try:
            state = current_scenario()
        except AsyncBddError:  # asyncbdd's hooks are not installed, or no scenario runs
            return ()
        if state is not self._scenario_state:
            self._scenario_state, self._waits_seen = state, 0
        finished = recorded_waits(state)
        new = finished[self._waits_seen :]
        self._waits_seen = len(finished)
        return tuple(wait_timing(evidence) for evidence in new)


_NOT_FAILED = frozenset({"passed", "skipped", "untested"})


def wait_timing(evidence: Evidence) -> WaitTiming:
    """What a report shows of a finished wait: what it awaited and its timing."""
    return WaitTiming(
        awaited=evidence.awaited,
        pattern=evidence.pattern,
        passed=evidence.passed,
        elapsed=evidence.elapsed,
        timeout=evidence.timeout,
    )


def feature_report(
    feature: Any, finished_steps: Mapping[int, Sequence[StepReport]] | None = None
) -> FeatureReport:
    """A behave feature as the report shows it.

    ``finished_steps`` are the reports of steps noted as they finished, by ``id`` of their
    scenario, in order; a scenario's remaining steps (skipped, never run) are read now.
    """
    finished_steps = finished_steps or {}
    return FeatureReport(
        name=str(feature.name),
        location=str(getattr(feature, "filename", None) or feature.location),
        description=tuple(str(line) for line in feature.description or ()),
        scenarios=tuple(
            _scenario_report(scenario, finished_steps.get(id(scenario), ()))
            for scenario in feature.walk_scenarios()
        ),
        error=_masked(getattr(feature, "error_message", None)),
    )


def step_report(
    step: Any,
    *,
    waits: tuple[WaitTiming, ...] = (),
    failure: str | None = None,
    pictures: tuple[Picture, ...] = (),
) -> StepReport:
    """A behave step as the report shows it, with what was found as it finished: the
    waits it finished, its failure text (its error message, masked, if not given) and
    the pictures of its evidence."""
    status = _status(step)
    if failure is None and status not in _NOT_FAILED:
        failure = _masked(getattr(step, "error_message", None))
    table = step.table
    return StepReport(
        keyword=str(step.keyword),
        name=str(step.name),
        status=status,
        duration=float(step.duration or 0.0),
        table=() if table is None else _rows(table),
        text=None if step.text is None else str(step.text),
        failure=failure,
        pictures=pictures,
        waits=waits,
    )


def _scenario_report(scenario: Any, finished: Sequence[StepReport]) -> ScenarioReport:
    remaining = list(scenario.all_steps)[len(finished) :]
    steps = (*finished, *(step_report(step) for step in remaining))
    return ScenarioReport(
        keyword=str(scenario.keyword),
        name=str(scenario.name),
        location=str(scenario.location),
        status=_status(scenario),
        duration=sum(step.duration for step in steps),
        steps=steps,
        tags=tuple(str(tag) for tag in scenario.tags),
        error=_masked(getattr(scenario, "error_message", None)),
    )


def _rows(table: Any) -> tuple[tuple[str, ...], ...]:
    heading = tuple(str(cell) for cell in table.headings)
    return (heading, *(tuple(str(cell) for cell in row.cells) for row in table.rows))


def _status(model_element: Any) -> str:
    status = model_element.status
    return str(getattr(status, "name", status))


def _evidence(step: Any) -> Evidence | None:
    error = getattr(step, "exception", None)
    return evidence_of(error) if isinstance(error, BaseException) else None


def _failure_text(step: Any, evidence: Evidence | None) -> str | None:
    if evidence is not None:
        return evidence.to_text()
    return _masked(getattr(step, "error_message", None))


def _pictures(evidence: Evidence | None) -> tuple[tuple[Picture, ...], str | None]:
    """The evidence's pictures, or none and why: a picture that cannot be drawn must not
    cost the report, nor the run, its failure text."""
    if evidence is None:
        return (), None
    try:
        return tuple(evidence.pictures()), None
    except Exception as error:  # any bug in drawing: the failure text still counts
        report_problem(f"the report could not draw the evidence of a failure: {error!r}")
        return (), f"(The pictures of this failure could not be drawn: {error!r}.)"


def _masked(text: object) -> str | None:
    if text is None:
        return None
    if isinstance(text, list):  # behave may keep a message as its lines
        text = "\n".join(str(line) for line in text)
    return mask_urls_in(str(text))
