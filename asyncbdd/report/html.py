"""A run as one self-contained HTML page: inline style, inline SVG pictures, no scripts.

Summary first (scenarios passed, failed and skipped, the run time, links to the failed
scenarios), then each feature with its scenarios. A failed scenario is open, with its
failure text in full and its evidence's pictures; each wait shows how much of its
deadline it used. Every text from the run (names, steps, tables, failures) is escaped:
the only markup not written here is the evidence's own SVG.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape

from asyncbdd.durations import format_duration
from asyncbdd.evidence import Picture
from asyncbdd.report.model import (
    FeatureReport,
    RunReport,
    ScenarioReport,
    StepReport,
    WaitTiming,
    outcome_of,
)
from asyncbdd.report.style import STYLE

__all__ = ["CLOSE_SHARE", "render_html"]

CLOSE_SHARE = 0.8
"""A passing wait that used at least this share of its deadline is marked as close."""


def render_html(run: RunReport) -> str:
    """The whole page for ``run``, as one string."""
    return "".join(_page(run))


def _page(run: RunReport) -> Iterator[str]:
    title = escape(run.title)
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    )
    yield from _summary(run)
    yield "<main>\n"
    for number, feature in enumerate(run.features, 1):
        yield from _feature(feature, f"f{number}")
    yield "</main>\n</body>\n</html>\n"


def _summary(run: RunReport) -> Iterator[str]:
    counts = run.counts
    scenarios = sum(counts.values())
    started = run.started.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    yield f'<header class="summary">\n<h1>{escape(run.title)}</h1>\n<p class="counts">'
    for outcome in ("passed", "failed", "skipped"):
        yield f'<span class="count {outcome}">\n<b>{counts[outcome]}</b> {outcome}</span>'
    yield (
        f'</p>\n<p class="muted">{scenarios} scenario{"" if scenarios == 1 else "s"} in '
        f"{len(run.features)} feature{'' if len(run.features) == 1 else 's'}; started "
        f"{escape(started)}; ran {format_duration(run.seconds)}</p>\n"
    )
    failed = [
        (f"f{feature_number}s{scenario_number}", feature, scenario)
        for feature_number, feature in enumerate(run.features, 1)
        for scenario_number, scenario in enumerate(feature.scenarios, 1)
        if scenario.outcome == "failed"
    ]
    if failed:
        yield '<ul class="failed-list">\n'
        for anchor, feature, scenario in failed:
            yield (
                f'<li><a href="#{anchor}">{escape(feature.name)}: {escape(scenario.name)}</a>'
                f' <span class="location">{escape(scenario.location)}</span></li>\n'
            )
        yield "</ul>\n"
    yield "</header>\n"


def _feature(feature: FeatureReport, anchor: str) -> Iterator[str]:
    yield (
        f'<section class="feature" id="{anchor}">\n<h2><span class="keyword">Feature:</span> '
        f'{escape(feature.name)}</h2>\n<div class="location">{escape(feature.location)}</div>\n'
    )
    if feature.description:
        yield f'<p class="description">{escape(chr(10).join(feature.description))}</p>\n'
    if feature.error:
        yield f'<pre class="error-text">{escape(feature.error)}</pre>\n'
    for number, scenario in enumerate(feature.scenarios, 1):
        yield from _scenario(scenario, f"{anchor}s{number}")
    yield "</section>\n"


def _scenario(scenario: ScenarioReport, anchor: str) -> Iterator[str]:
    outcome = scenario.outcome
    opened = " open" if outcome == "failed" else ""
    yield (
        f'<details class="scenario {outcome}"{opened}>\n<summary id="{anchor}">'
        f"{_mark(scenario.status)}"
        f'<span><span class="keyword">{escape(scenario.keyword)}:</span> '
        f"{escape(scenario.name)}</span>"
        f'<span class="duration">{format_duration(scenario.duration)}</span></summary>\n'
        f'<div class="scenario-body">\n<div class="location">{escape(scenario.location)}'
    )
    if scenario.tags:
        tags = " ".join(f"@{tag}" for tag in scenario.tags)
        yield f' <span class="tags">{escape(tags)}</span>'
    yield '</div>\n<ol class="steps">\n'
    for step in scenario.steps:
        yield from _step(step)
    yield "</ol>\n"
    if scenario.error:
        yield f'<pre class="error-text">{escape(scenario.error)}</pre>\n'
    yield "</div>\n</details>\n"


def _step(step: StepReport) -> Iterator[str]:
    yield (
        f'<li class="step {_css_word(step.status)}">\n<div class="step-line">'
        f'{_mark(step.status)}<span><span class="keyword">{escape(step.keyword)}</span> '
        f"{escape(step.name)}</span>"
        f'<span class="duration">{format_duration(step.duration)}</span></div>\n'
    )
    details = [*_step_table(step.table), *_doc_string(step.text), *_waits(step.waits)]
    details += [*_failure(step.failure, step.pictures)]
    if details:
        yield '<div class="step-detail">\n'
        yield from details
        yield "</div>\n"
    yield "</li>\n"


def _step_table(rows: tuple[tuple[str, ...], ...]) -> Iterator[str]:
    if not rows:
        return
    heading, *body = rows
    yield '<table class="step-table">\n<tr>'
    yield "".join(f"<th>{escape(cell)}</th>" for cell in heading)
    yield "</tr>\n"
    for row in body:
        yield "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>\n"
    yield "</table>\n"


def _doc_string(text: str | None) -> Iterator[str]:
    if text is not None:
        yield f'<pre class="doc-string">{escape(text)}</pre>\n'


def _waits(waits: tuple[WaitTiming, ...]) -> Iterator[str]:
    if not waits:
        return
    yield '<ul class="waits">\n'
    for wait in waits:
        yield from _wait(wait)
    yield "</ul>\n"


def _wait(wait: WaitTiming) -> Iterator[str]:
    share = wait.share
    kind = "failed" if not wait.passed else "close" if (share or 0) >= CLOSE_SHARE else "passed"
    if share is None:
        timing = f"{format_duration(wait.elapsed)}, no deadline"
        bar = ""
    else:
        used = f"{format_duration(wait.elapsed)} of {format_duration(wait.timeout or 0)}"
        timing = f"{used} ({share:.0%})"
        width = f"{min(share, 1.0) * 100:.1f}%"
        bar = f'<span class="bar" title="{timing}"><span style="width: {width}"></span></span>'
    yield (
        f'<li class="wait {kind}">{bar}<span class="timing">{escape(timing)}</span> '
        f'<span class="awaited">{escape(wait.pattern)}: {escape(wait.awaited)}</span></li>\n'
    )


def _failure(text: str | None, pictures: tuple[Picture, ...]) -> Iterator[str]:
    if text is None and not pictures:
        return
    yield '<div class="failure">\n'
    if text is not None:
        yield f'<pre class="failure-text">{escape(text)}</pre>\n'
    for picture in pictures:
        yield (
            f'<figure class="picture">\n<figcaption>{escape(picture.title)}</figcaption>\n'
            f"{_inline_svg(picture.svg)}\n</figure>\n"
        )
    yield "</div>\n"


def _mark(status: str) -> str:
    return f'<span class="mark {outcome_of(status)}">{escape(status)}</span>'


def _css_word(status: str) -> str:
    """``status`` as a class name: behave's statuses are words; anything else is dropped."""
    return status if re.fullmatch(r"[a-z_]+", status) else "unknown"


def _inline_svg(svg: str) -> str:
    """The ``<svg>`` element of a picture's document, without an XML declaration or
    doctype (neither is allowed inside HTML)."""
    start = svg.find("<svg")
    return svg[start:] if start > 0 else svg
