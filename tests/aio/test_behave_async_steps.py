"""behave's ``async def`` steps: their loop's tasks run while the library's steps wait."""

from __future__ import annotations

from pathlib import Path

from demo_features import run_behave

FEATURES = Path(__file__).resolve().parents[1] / "features" / "async_steps"


def test_library_steps_and_awaited_waits_see_the_work_of_tasks_in_behaves_loop(
    tmp_path: Path,
) -> None:
    outcomes = run_behave(tmp_path, str(FEATURES))
    waited = outcomes["a library step waits while a task in behave's loop does the work"]
    assert waited.status == "passed"
    assert outcomes["an async step awaits the same wait"].status == "passed"
    failed = outcomes["must fail: the task never pays"]
    assert failed.status == "failed"
    assert "the deadline passed" in failed.report
