"""The catalogue held against the registered steps: which step a line matches, which steps
no catalogue entry covers, and which steps a project adds of its own.

Steps are read from behave's registry, as behave itself matches them, so the answers hold
for the behave version installed (1.2.6 registers a colon-ended step without its colon as
well: both count as one step here).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from behave.matchers import MatchWithError
from behave.step_registry import registry

import asyncbdd.steps  # noqa: F401  (importing it registers the library's steps)
from asyncbdd.phrases.entries import CATALOGUE, Phrase

__all__ = ["RegisteredStep", "library_steps", "project_steps", "steps_matching", "uncovered_steps"]

_LIBRARY_MODULES = "asyncbdd.steps."
_KEYWORDS = ("Given", "When", "Then", "And", "But")


@dataclass(frozen=True)
class RegisteredStep:
    """A step definition in behave's registry."""

    step_type: str
    """``given``, ``when``, ``then`` or ``step`` (any keyword)."""
    matcher: Any
    """behave's matcher of the step (its ``pattern``, ``func`` and ``match``)."""

    @property
    def pattern(self) -> str:
        """The step's parse pattern, as its decorator gave it."""
        return str(self.matcher.pattern)

    @property
    def function(self) -> Any:
        """The step function."""
        return self.matcher.func

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the step whatever the behave version: its type and its pattern
        without a closing colon."""
        return self.step_type, self.pattern.rstrip(":")

    @property
    def from_library(self) -> bool:
        """Whether asyncbdd's step library defines it (rather than the project)."""
        return str(getattr(self.function, "__module__", "")).startswith(_LIBRARY_MODULES)

    def match(self, text: str) -> Any:
        """behave's match of ``text`` (without its keyword), or ``None``."""
        return self.matcher.match(text)


def library_steps() -> list[RegisteredStep]:
    """asyncbdd's registered steps (registered as this module imports :mod:`asyncbdd.steps`)."""
    return [step for step in _registered() if step.from_library]


def project_steps() -> list[RegisteredStep]:
    """The registered steps that asyncbdd's library does not define: the project's own."""
    return [step for step in _registered() if not step.from_library]


def steps_matching(
    line: str, steps: Iterable[RegisteredStep] | None = None
) -> list[RegisteredStep]:
    """The steps that a step line (``Then the billing queue receives 1 message``) matches.

    A match whose values fail to convert (``within ten seconds``) does not count.
    """
    keyword, _, text = line.strip().partition(" ")
    if keyword not in _KEYWORDS:
        raise ValueError(f"{line!r} does not start with a Gherkin keyword ({', '.join(_KEYWORDS)})")
    step_type = keyword.lower()
    candidates = library_steps() if steps is None else list(steps)
    found = []
    seen: set[tuple[str, str]] = set()
    for step in candidates:
        if step.step_type not in (step_type, "step") and keyword not in ("And", "But"):
            continue
        result = step.match(text)
        if result is not None and not isinstance(result, MatchWithError) and step.key not in seen:
            seen.add(step.key)
            found.append(step)
    return found


def uncovered_steps(catalogue: Iterable[Phrase] = CATALOGUE) -> list[RegisteredStep]:
    """The library's steps that no catalogue example matches: they lack catalogue text."""
    steps = library_steps()
    covered = {
        step.key for phrase in catalogue for line in phrase.examples
        for step in steps_matching(line, steps)
    }  # fmt: skip
    uncovered: dict[tuple[str, str], RegisteredStep] = {}
    for step in steps:
        if step.key not in covered:
            uncovered.setdefault(step.key, step)
    return list(uncovered.values())


def _registered() -> list[RegisteredStep]:
    return [
        RegisteredStep(step_type, matcher)
        for step_type, matchers in registry.steps.items()
        for matcher in matchers
    ]
