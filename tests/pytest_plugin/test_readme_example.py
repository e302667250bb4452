"""README's "Using asyncbdd with pytest" passes as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from plugin_runs import run

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Using asyncbdd with pytest\n"


def blocks(language: str) -> list[str]:
    """The ``language`` code blocks of the section, in order."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def test_the_example_passes_as_written(pytester: pytest.Pytester) -> None:
    (settings,), (tests,) = blocks("toml"), blocks("python")
    pytester.makepyprojecttoml(settings)
    pytester.makepyfile(test_orders=tests)
    run(pytester).assert_outcomes(passed=2)
