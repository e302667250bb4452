"""A failed step's evidence, attached to the reports that take attachments.

Called from behave's ``after_step`` (:mod:`asyncbdd.hooks` does it): the evidence as
JSON (:meth:`~asyncbdd.evidence.Evidence.to_json`, secrets masked) and each of its
pictures as SVG go to

* Allure, when allure-behave reports the run (its formatter, or its hooks, are loaded):
  ``allure.attach`` on the failed step;
* behave's ``context.attach`` (behave 1.3; 1.2.6 has none), which hands them to the
  formatters that embed attachments, such as behave's JSON formatter.

Text reports (the console, JUnit) are unchanged: they show the failure text as before.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any

from asyncbdd.errors import report_problem
from asyncbdd.evidence import Evidence, evidence_of

__all__ = ["Attachment", "attach_evidence", "evidence_attachments"]

JSON_TYPE = "application/json"
SVG_TYPE = "image/svg+xml"


@dataclass(frozen=True)
class Attachment:
    """One file to attach: its name (what a report shows), media type and content."""

    name: str
    mime_type: str
    body: bytes


def evidence_attachments(evidence: Evidence) -> list[Attachment]:
    """The evidence as JSON, then each of its pictures as SVG."""
    return [_json_attachment(evidence), *_picture_attachments(evidence)]


def attach_evidence(context: Any, step: Any) -> None:
    """Attach the evidence of ``step``'s failure, if it failed with some.

    A step that passed, or failed without asyncbdd's evidence, attaches nothing. An
    attachment that cannot be made is reported in one line on stderr and never raised:
    the step has failed already, and its failure text is what counts. Pictures that
    cannot be drawn leave the JSON attached.
    """
    error = getattr(step, "exception", None)
    if not isinstance(error, BaseException) or _status(step) == "passed":
        return
    evidence = evidence_of(error)
    if evidence is None:
        return
    made: list[Attachment] = []
    try:  # a report's bug must not turn a failure into a hook error
        made.append(_json_attachment(evidence))
        made += _picture_attachments(evidence)
    except Exception as problem:
        _report(step, problem)
    for deliver in (_attach_to_allure, _attach_to_behave):
        try:
            deliver(context, made)
        except Exception as problem:
            _report(step, problem)


def _json_attachment(evidence: Evidence) -> Attachment:
    document = json.dumps(evidence.to_json(), indent=2, ensure_ascii=False)
    return Attachment("evidence.json", JSON_TYPE, document.encode())


def _picture_attachments(evidence: Evidence) -> list[Attachment]:
    return [
        Attachment(f"{picture.title}.svg", SVG_TYPE, picture.svg.encode())
        for picture in evidence.pictures()
    ]


def _report(step: Any, problem: Exception) -> None:
    report_problem(f"could not attach the evidence of step {step.name!r}: {problem!r}")


def _attach_to_allure(context: Any, attachments: list[Attachment]) -> None:
    if (
        not attachments or "allure_behave" not in sys.modules
    ):  # allure-behave does not report this run
        return
    import allure  # noqa: PLC0415 - allure-behave brings it; most runs have neither

    kinds = {JSON_TYPE: allure.attachment_type.JSON, SVG_TYPE: allure.attachment_type.SVG}
    for attachment in attachments:
        allure.attach(
            attachment.body, name=attachment.name, attachment_type=kinds[attachment.mime_type]
        )


def _attach_to_behave(context: Any, attachments: list[Attachment]) -> None:
    attach = getattr(context, "attach", None)  # behave 1.3's; behave 1.2.6 has none
    if attach is None:
        return
    for attachment in attachments:
        attach(attachment.mime_type, attachment.body)


def _status(step: Any) -> str:
    status = getattr(step, "status", None)
    return str(getattr(status, "name", status))
