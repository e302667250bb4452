"""The catalogue as a document: headings, paragraphs, tables and examples, built once and
rendered as Markdown or as a self-contained HTML page.

Text in the blocks may hold ``code spans`` between backticks; each renderer shows them its
own way, and the HTML one escapes everything else.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

from asyncbdd.config import Settings
from asyncbdd.durations import format_duration
from asyncbdd.phrases.entries import (
    AREAS,
    CATALOGUE,
    MARKER_RULES,
    PLACEHOLDER_RULES,
    SLOTS,
    VALUE_RULES,
    Phrase,
)
from asyncbdd.phrases.project import HOW_TO_ADD, ProjectVocabulary

__all__ = ["Block", "catalogue_document", "render_html", "render_markdown"]


@dataclass(frozen=True)
class Heading:
    level: int
    text: str


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Table:
    headings: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Example:
    """Feature text, shown as is."""

    text: str


Block = Heading | Paragraph | Table | Example


def catalogue_document(
    settings: Settings, project: ProjectVocabulary | None, *, note: str | None = None
) -> list[Block]:
    """The catalogue for ``settings``: the library's phrases, the value rules, and the
    project's names when ``project`` is given (``note`` says why it is not, if it is not)."""
    blocks: list[Block] = [
        Heading(1, "Phrases you can write"),
        Paragraph(
            "Every phrase asyncbdd's steps understand. Start each with its keyword (`Given`, "
            "`When`, `Then`, or `And`/`But` after one). Words in `<angle brackets>` are "
            "yours to fill in; words in `[square brackets]` are optional."
        ),
        *_defaults_section(settings),
        Heading(2, "What goes in the slots"),
        Table(("slot", "what to write"), tuple((f"`{slot}`", text) for slot, text in SLOTS)),
    ]
    for area in AREAS:
        blocks.append(Heading(2, area))
        for phrase in (phrase for phrase in CATALOGUE if phrase.area == area):
            blocks += _phrase_blocks(phrase, settings)
    blocks += [
        Heading(2, "Values"),
        Paragraph("After `is`, in tables and in headers, a value is read like this:"),
        Table(
            ("written", "read as"), tuple((f"`{text}`", meaning) for text, meaning in VALUE_RULES)
        ),
        Heading(2, "Markers"),
        Paragraph(
            "Written bare in a table cell, or as a whole JSON string in an expected document, "
            'a marker stands for a kind of value; in quotes (`"<any>"`) it is the text itself.'
        ),
        Table(
            ("marker", "matches"), tuple((f"`{text}`", meaning) for text, meaning in MARKER_RULES)
        ),
        Heading(2, "Placeholders"),
        Paragraph("Expanded in values, table cells and doc strings while the scenario runs:"),
        Table(
            ("placeholder", "becomes"),
            tuple((f"`{text}`", meaning) for text, meaning in PLACEHOLDER_RULES),
        ),
    ]
    if project is not None:
        blocks += _project_section(project)
    elif note:
        blocks += [Heading(2, "In this project"), Paragraph(note)]
    return blocks


def render_markdown(blocks: Sequence[Block]) -> str:
    """The document as Markdown."""
    parts = []
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            lines = [_markdown_row(block.headings), "|" + "---|" * len(block.headings)]
            lines += [_markdown_row(row) for row in block.rows]
            parts.append("\n".join(lines))
        else:
            parts.append(f"```gherkin\n{block.text}\n```")
    return "\n\n".join(parts) + "\n"


def render_html(blocks: Sequence[Block]) -> str:
    """The document as one HTML page that needs nothing else (no scripts, no links)."""
    body = []
    title = next((block.text for block in blocks if isinstance(block, Heading)), "Phrases")
    for block in blocks:
        if isinstance(block, Heading):
            body.append(f"<h{block.level}>{_inline_html(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            body.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Table):
            head = "".join(f"<th>{_inline_html(cell)}</th>" for cell in block.headings)
            rows = "".join(
                "<tr>" + "".join(f"<td>{_inline_html(cell)}</td>" for cell in row) + "</tr>"
                for row in block.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        else:
            body.append(f"<pre>{html.escape(block.text)}</pre>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# The parts -----------------------------------------------------------------------------


def _defaults_section(settings: Settings) -> list[Block]:
    rows = [
        ("default timeout", _timeout(settings),
         "how long a step without `within <duration>` waits"),
        ("grace window", f"{_seconds(settings.grace)} (`asyncbdd.grace`)",
         "how long an exact count keeps watching for one too many"),
        ("settle window", f"{_seconds(settings.settle)} (`asyncbdd.settle`)",
         "how long changed rows must stay put to count as settled"),
        ("longest pause between checks",
         f"{_seconds(settings.max_interval)} (`asyncbdd.max_interval`)",
         "how often a probe is read, at the slowest"),
        ("scenario budget", f"{_seconds(settings.scenario_budget)} (`asyncbdd.scenario_budget`)",
         "the longest a scenario may run"),
    ]  # fmt: skip
    scale = settings.timeout_scale
    note = (
        f" Every deadline, `within <duration>` included, is multiplied by {scale:g} "
        "(`asyncbdd.timeout_scale`)."
        if scale != 1
        else ""
    )
    return [
        Heading(2, "Defaults in force"),
        Paragraph("What a step uses when it does not say, from the settings in force." + note),
        Table(("what", "value", "meaning"), tuple(rows)),
    ]


def _phrase_blocks(phrase: Phrase, settings: Settings) -> list[Block]:
    blocks: list[Block] = [
        Heading(3, f"`{phrase.keyword} {phrase.template}`"),
        Paragraph(phrase.description),
    ]
    notes = []
    if phrase.without_within is not None:
        instead = (
            "leave `within <duration>` out"
            if not phrase.without_within
            else f"write `{phrase.without_within}` instead of `within <duration>`"
        )
        notes.append(
            f"The deadline is optional: {instead} to wait up to the default timeout, "
            f"{_seconds(settings.timeout * settings.timeout_scale)}."
        )
    # an optional deadline's note already states the default timeout
    defaults = [
        _default_text(name, settings)
        for name in phrase.defaults
        if not (name == "timeout" and phrase.without_within is not None)
    ]
    if defaults:
        notes.append("Uses " + "; ".join(defaults) + ".")
    blocks += [Paragraph(note) for note in notes]
    example = "\n".join(phrase.examples) + (f"\n{phrase.block}" if phrase.block else "")
    blocks.append(Example(example))
    return blocks


def _default_text(name: str, settings: Settings) -> str:
    if name == "timeout":
        return f"the default timeout {_timeout(settings)} when no deadline is written"
    if name == "grace":
        return f"the grace window {_seconds(settings.grace)} (`asyncbdd.grace`)"
    if name == "settle":
        return f"the settle window {_seconds(settings.settle)} (`asyncbdd.settle`)"
    if name == "max_interval":
        return f"a check at least every {_seconds(settings.max_interval)} (`asyncbdd.max_interval`)"
    if name == "signature":
        secret = "set" if settings.webhooks_secret else "not set"
        algorithm = settings.webhooks_signature_algorithm
        return (
            f"the signature in header `{settings.webhooks_signature_header}` "
            f"(`asyncbdd.webhooks.signature_header`), an HMAC-{algorithm} of the body with "
            f"the secret `asyncbdd.webhooks.secret`, which is {secret}"
        )
    raise ValueError(f"no catalogue text for the default {name!r}")


def _project_section(project: ProjectVocabulary) -> list[Block]:
    blocks: list[Block] = [
        Heading(2, "In this project"),
        Paragraph(
            f"Read from `{project.directory}` as behave loads it (environment.py, the steps "
            "and the settings), without starting anything: names registered inside "
            "`before_all` or later are not listed here, so register them when environment.py "
            "loads."
        ),
    ]
    lists: list[tuple[str, str, Sequence[str]]] = [
        ("probes", "Probes (`<probe>`)", project.probes),
        ("snapshot_subjects", "Snapshot subjects (`<subject>`)", project.snapshot_subjects),
        ("traces", "Traces (`<trace>`)", project.traces),
        ("webhook_receivers", "Webhook receivers the features declare", project.webhook_receivers),
    ]
    for key, title, names in lists:
        blocks.append(Heading(3, title))
        if names:
            blocks.append(Table(("name",), tuple((f"`{name}`",) for name in names)))
        else:
            blocks.append(Paragraph("None. " + _code_free(HOW_TO_ADD[key])))
        if key == "snapshot_subjects":
            blocks.append(
                Paragraph(
                    'Any table can be named too: `the "<table>" table [where <column> is <value>]`.'
                )
            )
    blocks.append(Heading(3, "Queues and topics (`<queue>`)"))
    if project.queues:
        rows = tuple((f"`{alias}`", f"`{what}`") for alias, what in project.queues.items())
        blocks.append(Table(("alias", "is"), rows))
    else:
        blocks.append(Paragraph("None. " + _code_free(HOW_TO_ADD["queues"])))
    if project.steps:
        blocks += [
            Heading(3, "Phrases this project adds"),
            Table(
                ("phrase", "what it does"),
                tuple(
                    (f"`{step.keyword} {step.template}`", step.description)
                    for step in project.steps
                ),
            ),
        ]
    return blocks


def _timeout(settings: Settings) -> str:
    scale = settings.timeout_scale
    if scale == 1:
        return f"{_seconds(settings.timeout)} (`asyncbdd.timeout`)"
    return (
        f"{_seconds(settings.timeout * scale)} (`asyncbdd.timeout` {_seconds(settings.timeout)} "
        f"× `asyncbdd.timeout_scale` {scale:g})"
    )


def _seconds(seconds: float) -> str:
    return format_duration(seconds)


def _code_free(text: str) -> str:
    """Text that may hold backticks of its own, with them left out (they would open spans)."""
    return text.replace("`", "'")


def _markdown_row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


_CODE = re.compile(r"`([^`]*)`")


def _inline_html(text: str) -> str:
    parts = _CODE.split(text)  # odd positions are code spans
    return "".join(
        f"<code>{html.escape(part)}</code>" if index % 2 else html.escape(part)
        for index, part in enumerate(parts)
    )


_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem;
       line-height: 1.45; color: #1d1d1f; }
h1, h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
h3 { margin-bottom: .3em; }
code, pre { font-family: ui-monospace, monospace; background: #f4f4f6; border-radius: 4px; }
code { padding: .05em .3em; }
pre { padding: .6em .8em; overflow-x: auto; }
table { border-collapse: collapse; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .3em .6em; text-align: left; vertical-align: top; }
th { background: #f4f4f6; }
"""
