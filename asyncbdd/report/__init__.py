"""Where people look at evidence: an HTML report of a behave run, and attachments.

``behave -f asyncbdd.report:HtmlFormatter -o report.html`` writes one self-contained
page per run (:class:`HtmlFormatter`); :func:`attach_evidence`, which
:func:`asyncbdd.hooks.install_hooks` calls after every step, attaches a failure's
evidence (JSON and SVG pictures) to Allure and to behave's ``context.attach``.
"""

from asyncbdd.report.attachments import Attachment, attach_evidence, evidence_attachments
from asyncbdd.report.formatter import HtmlFormatter
from asyncbdd.report.html import render_html
from asyncbdd.report.model import (
    FeatureReport,
    RunReport,
    ScenarioReport,
    StepReport,
    WaitTiming,
)

__all__ = [
    "Attachment",
    "FeatureReport",
    "HtmlFormatter",
    "RunReport",
    "ScenarioReport",
    "StepReport",
    "WaitTiming",
    "attach_evidence",
    "evidence_attachments",
    "render_html",
]
