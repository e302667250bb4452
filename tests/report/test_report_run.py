"""The HTML report, the attachments and the JUnit text of a real behave run, as people see them.

One behave run of the demo features plus ``failing_chain.feature`` (a trace out of
order, against the healthy service) writes every report at once: the HTML report, the
JSON report (which embeds what ``context.attach`` hands it), Allure's results and
JUnit's. The HTML report is then opened in headless Chromium at 1280 px wide: the
failure's timeline picture must be there, visible, within the page's width, with text
no smaller than 12 px.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

import pytest
from demo_features import ALL_SCENARIOS, Outcome, run_behave

FAILING_CHAIN = "tests/report/failing_chain.feature"
FAILING = "Shipping before payment is reported with the order's timeline"
WIDTH = 1280
SMALLEST_TEXT_PX = 12.0


@dataclass(frozen=True)
class ReportRun:
    """A behave run's outcomes and where it wrote its reports."""

    outcomes: dict[str, Outcome]
    html: Path
    json: Path
    junit: Path
    allure: Path


@pytest.fixture(scope="module")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    """The demo features and the failing chain, run once with every report."""
    output = tmp_path_factory.mktemp("report-run")
    html, junit, allure = output / "report.html", output / "junit", output / "allure"
    options = [
        *("-f", "asyncbdd.report", "-o", str(html)),
        *("-f", "allure_behave.formatter:AllureFormatter", "-o", str(allure)),
        *("--junit", "--junit-directory", str(junit)),
    ]
    outcomes = run_behave(output, "features", FAILING_CHAIN, *options)
    return ReportRun(outcomes, html, output / "report.json", junit, allure)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Headless Chromium (Debian's ``chromium``); skipped where it is missing, but under
    CI (``CI=true``), where a skipped browser check would hide a broken report."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        message = "chromium is not installed: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def test_the_run_reports_the_failing_chain_and_passes_the_demo(report_run: ReportRun) -> None:
    """The run is what the report must show: every demo scenario passed, the chain failed."""
    assert set(report_run.outcomes) == {*ALL_SCENARIOS, FAILING}
    failed = {name for name, outcome in report_run.outcomes.items() if outcome.status != "passed"}
    assert failed == {FAILING}


def test_the_html_report_summarises_the_run_and_opens_the_failure(report_run: ReportRun) -> None:
    """The summary counts what behave counted; only the failed scenario is open, with
    its failure text and its timeline picture inline."""
    page = report_run.html.read_text(encoding="utf-8")
    summary = page[: page.index("</header>")]
    passed = len(ALL_SCENARIOS)
    assert re.search(rf'class="count passed"[^>]*>\s*<b>{passed}</b> passed', summary)
    assert re.search(r'class="count failed"[^>]*>\s*<b>1</b> failed', summary)
    assert re.search(r'class="count skipped"[^>]*>\s*<b>0</b> skipped', summary)

    assert page.count("<details") == passed + 1
    opened = re.findall(
        r'<details class="scenario failed" open>\s*<summary[^>]*>(.*?)</summary>', page
    )
    assert len(opened) == 1
    assert "Shipping before payment is reported with the order&#x27;s timeline" in opened[0]
    assert "out of order" in page
    assert "<svg" in page
    assert re.search(r"<figcaption>Timeline", page)


def test_passing_waits_show_how_close_they_came_to_their_deadline(report_run: ReportRun) -> None:
    """The demo's waits are in the report with their time against their deadline."""
    page = report_run.html.read_text(encoding="utf-8")
    timings = re.findall(r'<li class="wait (passed|close)">.*?class="timing">([^<]+)<', page)
    assert len(timings) >= len(ALL_SCENARIOS)
    assert all(re.fullmatch(r"\S+ m?s of \S+ (min )?m?s \(\d+%\)", timing) for _, timing in timings)


def test_the_report_is_self_contained(report_run: ReportRun) -> None:
    """The report loads nothing: no external stylesheet, script, font or image."""
    page = report_run.html.read_text(encoding="utf-8")
    assert not re.search(r"<(link|script|img|iframe)\b", page)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "url(" not in page


def test_the_failure_s_evidence_is_embedded_in_the_json_report(report_run: ReportRun) -> None:
    """behave's JSON formatter embeds the failed step's evidence and its pictures, which
    asyncbdd hands to ``context.attach``."""
    features = json.loads(report_run.json.read_text())
    steps = [
        step
        for feature in features
        for element in feature.get("elements", [])
        if element["name"] == FAILING
        for step in element["steps"]
    ]
    failed = [step for step in steps if step.get("result", {}).get("status") == "failed"]
    assert len(failed) == 1
    embedded = {
        item["mime_type"]: base64.b64decode(item["data"]) for item in failed[0]["embeddings"]
    }
    assert set(embedded) == {"application/json", "image/svg+xml"}
    evidence = json.loads(embedded["application/json"])
    assert evidence["passed"] is False
    assert evidence["pattern"] == "trace"
    assert embedded["image/svg+xml"].lstrip().startswith((b"<svg", b"<?xml"))
    assert all("embeddings" not in step for step in steps if step not in failed)


def test_the_failure_s_evidence_is_attached_in_allure(report_run: ReportRun) -> None:
    """allure-behave's result for the failed scenario carries the evidence JSON and SVG
    on its failed step."""
    results = [json.loads(path.read_text()) for path in report_run.allure.glob("*-result.json")]
    failing = [result for result in results if result["name"] == FAILING]
    assert len(failing) == 1
    failed_steps = [step for step in failing[0]["steps"] if step["status"] == "failed"]
    assert len(failed_steps) == 1
    attachments = failed_steps[0].get("attachments", [])
    ours = [item for item in attachments if item["type"] != "text/csv"]  # csv: the step's table
    assert {item["type"] for item in ours} == {"application/json", "image/svg+xml"}
    assert "evidence.json" in {item["name"] for item in ours}
    for item in ours:
        assert (report_run.allure / item["source"]).stat().st_size > 0
    assert re.search(r"<svg", next(
        (report_run.allure / item["source"]).read_text()
        for item in attachments
        if item["type"] == "image/svg+xml"
    ))  # fmt: skip


def test_the_junit_text_is_the_failure_text_alone(report_run: ReportRun) -> None:
    """JUnit's failure text is behave's error message, as before: no picture, no JSON."""
    suites = [ElementTree.parse(path).getroot() for path in report_run.junit.glob("*.xml")]
    failures = [
        (case, failure)
        for suite in suites
        for case in suite.iter("testcase")
        for failure in case.iter("failure")
    ]
    assert len(failures) == 1
    case, failure = failures[0]
    assert FAILING in case.get("name", "")
    message = failure.get("message", "") + (failure.text or "")
    assert "out of order" in message
    assert "<svg" not in message
    assert '"pattern"' not in message
    features = json.loads(report_run.json.read_text())
    error = next(
        step["result"]["error_message"]
        for feature in features
        for element in feature.get("elements", [])
        if element["name"] == FAILING
        for step in element["steps"]
        if step.get("result", {}).get("status") == "failed"
    )
    error_text = "\n".join(error) if isinstance(error, list) else error
    assert failure.get("message") in error_text  # the failure's own text, whole


def test_the_timeline_is_visible_and_legible_in_a_browser(
    report_run: ReportRun, chromium: str, tmp_path: Path
) -> None:
    """At 1280 px wide, the timeline picture is laid out on screen, inside the page's
    width, and none of its text is smaller than 12 px."""
    measured = tmp_path / "measured.html"
    page = report_run.html.read_text(encoding="utf-8")
    measured.write_text(page.replace("</body>", f"{MEASURE}</body>"), encoding="utf-8")
    screenshot = tmp_path / "report.png"
    _chromium(chromium, tmp_path, f"--screenshot={screenshot}", report_run.html, height=4000)
    dom = _chromium(chromium, tmp_path, "--dump-dom", measured)

    found = re.search(r'<pre id="layout">(.*?)</pre>', dom, re.DOTALL)
    assert found, dom[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    timelines = [figure for figure in layout["figures"] if figure["caption"].startswith("Timeline")]
    assert timelines, layout
    for figure in timelines:
        assert figure["width"] > 200, figure
        assert figure["height"] > 50, figure
        assert figure["visible"], figure
        assert figure["left"] >= 0, figure
        assert figure["right"] <= layout["viewport"], figure
        assert figure["texts"], figure
        for text in figure["texts"]:
            assert text["fontPx"] >= SMALLEST_TEXT_PX, text
            assert figure["left"] - 1 <= text["left"], text  # not cut off by the picture
            assert text["right"] <= figure["right"] + 1, text
    assert layout["pageWidth"] <= layout["viewport"], "the page scrolls sideways"
    assert screenshot.stat().st_size > 10_000


def _chromium(chromium: str, profile: Path, action: str, page: Path, height: int = 2000) -> str:
    """Run headless Chromium on ``page`` at 1280 px wide; its output (the DOM for
    ``--dump-dom``). A screenshot is ``height`` px tall."""
    completed = subprocess.run(
        [
            chromium,
            *("--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars"),
            f"--user-data-dir={profile / 'chromium-profile'}",
            f"--window-size={WIDTH},{height}",
            action,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


MEASURE = """<script>
(function () {
  const viewport = document.documentElement.clientWidth;
  const figures = [];
  for (const figure of document.querySelectorAll("figure.picture")) {
    const box = figure.querySelector("svg").getBoundingClientRect();
    const style = getComputedStyle(figure.querySelector("svg"));
    const texts = [];
    for (const text of figure.querySelectorAll("svg text")) {
      const rect = text.getBoundingClientRect();
      const matrix = text.getScreenCTM();
      const scale = matrix ? Math.hypot(matrix.a, matrix.b) : 0;
      if (!text.textContent.trim()) continue;
      texts.push({text: text.textContent, left: rect.left, right: rect.right,
                  fontPx: parseFloat(getComputedStyle(text).fontSize) * scale});
    }
    figures.push({
      caption: figure.querySelector("figcaption").textContent,
      left: box.left, right: box.right, width: box.width, height: box.height,
      visible: style.display !== "none" && style.visibility !== "hidden" && box.width > 0
        && figure.closest("details").open,
      texts: texts,
    });
  }
  const out = document.createElement("pre");
  out.id = "layout";
  out.textContent = JSON.stringify({
    viewport: viewport, pageWidth: document.documentElement.scrollWidth, figures: figures});
  document.body.append(out);
})();
</script>"""
