"""The adoption guide's worked example: its features pass against its own service."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HELPDESK = Path(__file__).resolve().parent.parent / "examples" / "helpdesk"


def test_the_helpdesk_features_pass() -> None:
    """The Flask helpdesk of docs/adoption.md passes its five-pattern feature as written."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASYNCBDD_")}
    finished = subprocess.run(
        [sys.executable, "-m", "behave", "--no-capture", "-f", "plain", "--no-timings"],
        cwd=HELPDESK,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = finished.stdout + finished.stderr
    assert finished.returncode == 0, report
    assert "5 scenarios passed, 0 failed" in report, report
