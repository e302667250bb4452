"""A failed step's evidence, attached to Allure and to behave's ``context.attach``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from asyncbdd.errors import WaitTimeout
from asyncbdd.evidence import evidence_of
from asyncbdd.report import attach_evidence, evidence_attachments
from asyncbdd.scenario import scenario
from asyncbdd.wait import wait_until


@pytest.fixture
def timed_out() -> Iterator[WaitTimeout]:
    """The error of a wait that timed out, as a step would fail with it."""
    with scenario("attachments"):
        values = iter(range(1000))
        with pytest.raises(WaitTimeout) as raised:
            wait_until(lambda: next(values), lambda value: value < 0, timeout=0.05)
        yield raised.value


class Context:
    """behave 1.3's context, as far as attachments go: it records what is attached."""

    def __init__(self) -> None:
        self.attached: list[tuple[str, bytes]] = []

    def attach(self, mime_type: str, data: bytes) -> None:
        self.attached.append((mime_type, data))


def failed_step(error: BaseException | None, status: str = "failed") -> SimpleNamespace:
    return SimpleNamespace(name="the order status is shipped", status=status, exception=error)


def test_a_failure_s_evidence_is_attached_as_json_and_svg(timed_out: WaitTimeout) -> None:
    """The evidence goes to ``context.attach`` as its JSON, then each picture as SVG."""
    evidence = evidence_of(timed_out)
    assert evidence is not None
    context = Context()

    attach_evidence(context, failed_step(timed_out))

    pictures = evidence.pictures()
    assert [kind for kind, _ in context.attached] == [
        "application/json",
        *["image/svg+xml"] * len(pictures),
    ]
    assert json.loads(context.attached[0][1]) == json.loads(json.dumps(evidence.to_json()))
    assert [data.decode() for _, data in context.attached[1:]] == [p.svg for p in pictures]


def test_attachments_are_named_after_what_they_show(timed_out: WaitTimeout) -> None:
    """The JSON is ``evidence.json``; a picture is named by its title."""
    evidence = evidence_of(timed_out)
    assert evidence is not None
    made = evidence_attachments(evidence)
    assert made[0].name == "evidence.json"
    assert [a.name for a in made[1:]] == [f"{p.title}.svg" for p in evidence.pictures()]


@pytest.mark.parametrize(
    "step",
    [
        failed_step(None, status="passed"),
        failed_step(AssertionError("not asyncbdd's"), status="failed"),
        failed_step(None, status="skipped"),
    ],
    ids=["passed", "failed without evidence", "skipped"],
)
def test_nothing_is_attached_without_evidence(step: SimpleNamespace) -> None:
    """A step that passed, or failed without asyncbdd's evidence, attaches nothing."""
    context = Context()
    attach_evidence(context, step)
    assert context.attached == []


def test_a_context_without_attach_is_left_alone(timed_out: WaitTimeout) -> None:
    """behave 1.2.6's context has no ``attach``: nothing happens, and nothing fails."""
    attach_evidence(SimpleNamespace(), failed_step(timed_out))


def test_an_attachment_that_fails_is_reported_not_raised(
    timed_out: WaitTimeout, capfd: pytest.CaptureFixture[str]
) -> None:
    """A report that refuses an attachment costs one line on stderr, not the step's
    failure text (a raised error would make it a hook error)."""

    class Refusing:
        def attach(self, mime_type: str, data: bytes) -> None:
            raise OSError("report closed")

    attach_evidence(Refusing(), failed_step(timed_out))

    error = capfd.readouterr().err
    assert "could not attach the evidence of step 'the order status is shipped'" in error
    assert "report closed" in error


def test_allure_gets_the_evidence_when_allure_behave_reports_the_run(
    timed_out: WaitTimeout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With allure-behave loaded, each attachment goes to ``allure.attach`` with its type."""
    allure = pytest.importorskip("allure")
    pytest.importorskip("allure_behave")
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(allure, "attach", lambda body, **options: calls.append(options))

    attach_evidence(SimpleNamespace(), failed_step(timed_out))

    assert calls
    assert calls[0] == {"name": "evidence.json", "attachment_type": allure.attachment_type.JSON}
    assert all(call["attachment_type"] == allure.attachment_type.SVG for call in calls[1:])


def test_allure_is_not_imported_for_a_run_it_does_not_report(
    timed_out: WaitTimeout, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without allure-behave in the run, allure is neither imported nor called."""
    monkeypatch.delitem(sys.modules, "allure_behave", raising=False)
    monkeypatch.delitem(sys.modules, "allure", raising=False)

    attach_evidence(Context(), failed_step(timed_out))

    assert "allure" not in sys.modules
