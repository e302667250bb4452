"""behave 1.2.6, which many teams still run, runs the demo features as 1.3 does."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def behave_126(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment that sees this one's packages but has behave 1.2.6."""
    venv = tmp_path_factory.mktemp("behave-1.2.6")
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    installed = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "behave==1.2.6", "parse-type>=0.4.2", "six"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    if installed.returncode != 0:
        if os.environ.get("CI") == "true":
            pytest.fail(f"could not install behave 1.2.6: {installed.stderr}")
        pytest.skip(f"behave 1.2.6 cannot be installed here: {installed.stderr[-300:]}")
    return python


def test_the_demo_features_pass_on_behave_1_2_6(behave_126: Path) -> None:
    """Every demo scenario passes on behave 1.2.6, which drops a step's closing colon."""
    version = subprocess.run(
        [str(behave_126), "-c", "import behave; print(behave.__version__)"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert version.stdout.strip() == "1.2.6"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    finished = subprocess.run(
        [str(behave_126), "-m", "behave", "-f", "progress", "--no-timings"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    report = finished.stdout + finished.stderr
    assert finished.returncode == 0, report
    assert re.search(r"\b[1-9]\d* scenarios passed, 0 failed, 0 skipped", report), report


def test_the_html_report_is_written_on_behave_1_2_6(behave_126: Path, tmp_path: Path) -> None:
    """``-f asyncbdd.report`` (named in setup.cfg) writes the report on behave 1.2.6 too,
    a failure open with its timeline (1.2.6 has no ``context.attach``: nothing breaks)."""
    report = tmp_path / "report.html"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    finished = subprocess.run(
        [str(behave_126), "-m", "behave", "features/order_status.feature",
         "tests/report/failing_chain.feature", "-f", "asyncbdd.report", "-o", str(report),
         "-f", "progress", "--no-timings"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    output = finished.stdout + finished.stderr
    assert finished.returncode == 1, output  # the failing chain fails; nothing else does
    assert re.search(r"\b[1-9]\d* scenarios passed, 1 failed, 0 skipped", output), output
    page = report.read_text(encoding="utf-8")
    assert re.search(r'class="count failed"[^>]*>\s*<b>1</b> failed', page), page[:3000]
    assert len(re.findall(r'<details class="scenario failed" open>', page)) == 1
    assert "<figcaption>Timeline" in page
    assert re.search(r'<li class="wait (passed|close)">', page)
    assert "could not attach" not in output


def test_the_phrase_catalogue_formatter_runs_on_behave_1_2_6(behave_126: Path) -> None:
    """behave 1.2.6 loads asyncbdd's catalogue formatter and prints the demo's names."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    finished = subprocess.run(
        [str(behave_126), "-m", "behave", "--dry-run", "--no-summary", "--no-snippets",
         "-f", "asyncbdd.phrases:CatalogueFormatter", "-o", "-"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "| `the order status` |" in finished.stdout
    assert "| `order.created` | `kafka:order.created` |" in finished.stdout
