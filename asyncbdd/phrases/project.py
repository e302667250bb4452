"""The names a project gives its features to write: what its registrations and settings
say "the order status", "the billing queue" and "the trace for this order" mean.

Read from the registries once the project is loaded (:mod:`asyncbdd.behave_project`),
under the project's settings. Webhook receivers are not registered but declared by a
scenario; those are read from the project's feature files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from asyncbdd.config import Settings
from asyncbdd.phrases.coverage import RegisteredStep, library_steps, project_steps, steps_matching
from asyncbdd.probes import PROBES
from asyncbdd.queues.aliases import alias_names, queue_named
from asyncbdd.secrets import mask_url
from asyncbdd.snapshot_subjects import SNAPSHOT_SUBJECTS
from asyncbdd.traces.names import HOW_TO_REGISTER as HOW_TO_NAME_A_TRACE
from asyncbdd.traces.names import trace_names

__all__ = ["HOW_TO_ADD", "ProjectStep", "ProjectVocabulary", "read_vocabulary"]


@dataclass(frozen=True)
class ProjectStep:
    """A step the project defines itself, as the catalogue shows it."""

    keyword: str
    template: str
    description: str


@dataclass(frozen=True)
class ProjectVocabulary:
    """What a project's features can name, and the phrases it adds."""

    directory: Path
    probes: list[str] = field(default_factory=list)
    snapshot_subjects: list[str] = field(default_factory=list)
    queues: dict[str, str] = field(default_factory=dict)
    """Alias -> what it names (``sqs:billing``), secrets masked."""
    traces: list[str] = field(default_factory=list)
    webhook_receivers: list[str] = field(default_factory=list)
    """The receiver names its feature files declare."""
    steps: list[ProjectStep] = field(default_factory=list)


HOW_TO_ADD: dict[str, str] = {
    "probes": PROBES.how_to_register,
    "snapshot_subjects": SNAPSHOT_SUBJECTS.how_to_register,
    "queues": (
        "Name them in the setting asyncbdd.queues ('billing = sqs:billing'), or call "
        "asyncbdd.register_queue(alias, queue) in environment.py."
    ),
    "traces": HOW_TO_NAME_A_TRACE,
    "webhook_receivers": 'Declare one in a scenario: Given a webhook receiver "payment-complete".',
}
"""For each list, how a project adds to it (shown when it is empty)."""


def read_vocabulary(directory: Path, settings: Settings) -> ProjectVocabulary:
    """The vocabulary of the project loaded from ``directory``, under ``settings`` (which
    must be the settings in force)."""
    queues = {}
    for alias in alias_names():
        spec = settings.queues.get(alias)
        queues[alias] = (
            mask_url(spec, extra_names=settings.secrets_names)
            if spec is not None
            else queue_named(alias).describe()  # registered in Python: no connection made
        )
    return ProjectVocabulary(
        directory=directory,
        probes=PROBES.names,
        snapshot_subjects=SNAPSHOT_SUBJECTS.names,
        queues=queues,
        traces=trace_names(),
        webhook_receivers=_declared_receivers(directory),
        steps=[_shown(step) for step in project_steps()],
    )


_FIELD = re.compile(r"\{(\w*)(?::[^}]*)?\}")
_STEP_LINE = re.compile(r"\s*(Given|When|Then|And|But)\s+(.+?)\s*$")


def _shown(step: RegisteredStep) -> ProjectStep:
    template = _FIELD.sub(lambda match: f"<{match.group(1) or 'value'}>", step.pattern)
    doc = (getattr(step.function, "__doc__", None) or "").strip()
    return ProjectStep(step.step_type.capitalize(), template, doc.split("\n\n")[0].strip())


def _declared_receivers(directory: Path) -> list[str]:
    """The receiver names the ``Given a webhook receiver "..."`` steps of the feature files
    under ``directory`` declare (Scenario Outline ``<placeholders>`` left out)."""
    declaring = [
        step for step in library_steps()
        if step.function.__module__ == "asyncbdd.steps.webhook_steps" and step.step_type == "given"
    ]  # fmt: skip
    names: set[str] = set()
    for path in sorted(directory.rglob("*.feature")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if not _STEP_LINE.match(line):
                continue
            for step in steps_matching(line, declaring):
                name = _argument(step, line, "name")
                if name and "<" not in name:
                    names.add(name)
    return sorted(names)


def _argument(step: RegisteredStep, line: str, name: str) -> str | None:
    match = _STEP_LINE.match(line)
    assert match is not None
    result = step.match(match.group(2))
    for argument in getattr(result, "arguments", None) or ():
        if argument.name == name:
            return str(argument.value)
    return None
