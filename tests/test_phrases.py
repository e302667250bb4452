"""The phrase catalogue: true to the registered steps, plain, and complete for a project."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from asyncbdd.config import Settings
from asyncbdd.matching import MARKERS
from asyncbdd.phrases import CATALOGUE
from asyncbdd.phrases.coverage import library_steps, steps_matching, uncovered_steps
from asyncbdd.phrases.document import catalogue_document, render_html, render_markdown
from asyncbdd.phrases.entries import AREAS, MARKER_RULES
from asyncbdd.phrases.project import ProjectVocabulary

ROOT = Path(__file__).resolve().parent.parent


def _environment() -> dict[str, str]:
    """This process's environment without asyncbdd settings, which would change the output."""
    return {name: value for name, value in os.environ.items() if not name.startswith("ASYNCBDD_")}


def _run(*arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *arguments], cwd=cwd, env=_environment(),
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


# The catalogue against the registered steps -----------------------------------------


@pytest.mark.parametrize(
    "line", [line for phrase in CATALOGUE for line in phrase.examples], ids=lambda line: line[:60]
)
def test_every_example_matches_exactly_one_registered_step(line: str) -> None:
    """Each example line of the catalogue is a step behave runs, and only one step runs it."""
    matched = steps_matching(line)
    assert len(matched) == 1, f"{line!r} matches {[step.pattern for step in matched]}"


def test_every_registered_step_has_catalogue_text() -> None:
    """A step added to the library without a catalogue entry (or example) fails here."""
    missing = [f"@{step.step_type}({step.pattern!r})" for step in uncovered_steps()]
    assert not missing, "add these steps to asyncbdd/phrases/entries.py: " + ", ".join(missing)


def test_a_step_without_catalogue_text_is_reported() -> None:
    """Leaving an entry out shows its steps as uncovered, so the check above can fail."""
    without = [phrase for phrase in CATALOGUE if "is signed" not in phrase.template]
    uncovered = {step.pattern for step in uncovered_steps(without)}
    assert uncovered == {"the {nth:Ordinal} call is signed", "the call is signed"}


def test_within_twins_are_one_entry_each() -> None:
    """A phrase with and without 'within <duration>' is one entry that shows both forms."""
    assert len(CATALOGUE) < len({step.key for step in library_steps()})
    for phrase in CATALOGUE:
        forms = {line.split(" ", 2)[1] == "within" for line in phrase.examples}
        if phrase.without_within == "":
            assert forms == {True, False}, phrase.template
            assert phrase.template.startswith("[within <duration>]"), phrase.template


def test_templates_are_plain_words() -> None:
    """No template shows a parse pattern ({queue:QueueName}); all areas are used."""
    for phrase in CATALOGUE:
        assert not re.search(r"\{\w+(:\w+)?\}", phrase.template), phrase.template
        assert phrase.keyword in ("Given", "When", "Then"), phrase.template
        assert all(line.startswith(phrase.keyword + " ") for line in phrase.examples)
    assert {phrase.area for phrase in CATALOGUE} == set(AREAS)


def test_every_marker_is_listed() -> None:
    """The markers the matcher knows are exactly those the catalogue explains."""
    known = {marker.strip() for marker in MARKERS.split(", ")}
    assert {text for text, _ in MARKER_RULES} == known


# What the document says -----------------------------------------------------------------


def test_defaults_are_read_from_the_settings_in_force() -> None:
    """The default timeout (scaled), grace and settle windows shown are the settings' own."""
    settings = Settings(timeout=7, timeout_scale=2, grace=0.25, settle=2)
    text = render_markdown(catalogue_document(settings, None))
    assert (
        "| default timeout | 14 s (`asyncbdd.timeout` 7 s × `asyncbdd.timeout_scale` 2) |" in text
    )
    assert "| grace window | 250 ms (`asyncbdd.grace`) |" in text
    assert "| settle window | 2 s (`asyncbdd.settle`) |" in text
    section = text.split("### `Then [within <duration>] the <queue> queue receives <count>`")[1]
    section = section.split("###")[0]
    assert "leave `within <duration>` out to wait up to the default timeout, 14 s." in section
    assert "the grace window 250 ms (`asyncbdd.grace`)" in section
    assert "Then the billing queue receives 1 message" in section


def test_the_webhook_secret_is_never_shown() -> None:
    """The signing step says whether a secret is set, not what it is."""
    text = render_markdown(catalogue_document(Settings(webhooks_secret="hunter2-secret"), None))
    assert "hunter2" not in text
    assert "`asyncbdd.webhooks.secret`, which is set" in text


def test_the_html_page_is_self_contained_and_escaped() -> None:
    """The HTML needs no other file, and markers and templates show as written."""
    page = render_html(catalogue_document(Settings(), None))
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<(script|link|img)\b|https?://", page)
    assert "<code>&lt;near:NUMBER±TOLERANCE&gt;</code>" in page
    assert (
        "<code>Then [within &lt;duration&gt;] the &lt;queue&gt; queue receives &lt;count&gt;</code>"
        in page
    )


def test_an_empty_project_says_how_to_add_names() -> None:
    """A project without probes is told how to register one, not shown an empty table."""
    project = ProjectVocabulary(directory=Path("/project"), queues={"billing": "sqs:billing"})
    text = render_markdown(catalogue_document(Settings(), project))
    probes = text.split("### Probes (`<probe>`)")[1].split("###")[0]
    assert "None. Register one in Python" in probes
    assert "| `billing` | `sqs:billing` |" in text


# A project's names -------------------------------------------------------------------


def test_the_command_lists_the_demo_probes_queues_and_receivers() -> None:
    """In this repository, `asyncbdd phrases` lists what the demo registers and configures."""
    finished = _run("-m", "asyncbdd", "phrases", cwd=ROOT)
    assert finished.returncode == 0, finished.stderr
    text = finished.stdout
    for name in (
        "the order status",
        'the status of order "{order_id}"',
        'the stock of product "{product_id}"',
    ):
        assert f"| `{name}` |" in text, name
    assert '| `the inventory of product "{product_id}"` |' in text
    for alias, spec in (("billing", "sqs:billing"), ("order.created", "kafka:order.created")):
        assert f"| `{alias}` | `{spec}` |" in text
    assert "| `the trace for this order` |" in text
    assert "| `payment-complete` |" in text
    assert '`When a customer orders <quantity> of product "<product_id>"`' in text
    assert "demo-webhook-secret" not in text


def test_the_behave_formatter_prints_the_same_catalogue() -> None:
    """`behave --dry-run -f asyncbdd.phrases:CatalogueFormatter` prints what the command does."""
    formatted = _run(
        "-m", "behave", "--dry-run", "--no-summary", "--no-snippets",
        "-f", "asyncbdd.phrases:CatalogueFormatter", "-o", "-", cwd=ROOT,
    )  # fmt: skip
    command = _run("-m", "asyncbdd", "phrases", cwd=ROOT)
    assert formatted.returncode == 0, formatted.stderr
    assert "# Phrases you can write" in formatted.stdout
    start = formatted.stdout.index("# Phrases you can write")
    assert formatted.stdout[start:] == command.stdout


def test_the_html_format_of_the_command(tmp_path: Path) -> None:
    """`--format html` prints one HTML page."""
    finished = _run("-m", "asyncbdd", "phrases", "--format", "html", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.startswith("<!DOCTYPE html>")
    assert "holds no behave project" in finished.stdout


def test_a_project_of_its_own_is_listed_with_secrets_masked(tmp_path: Path) -> None:
    """A project's import-time registrations, configured queues (masked) and steps are
    listed; what its before_all would register is not, since no hook runs."""
    (tmp_path / "features" / "steps").mkdir(parents=True)
    (tmp_path / "features" / "shop.feature").write_text(
        textwrap.dedent("""\
            Feature: shop
              Scenario: paid
                Given a webhook receiver "shop-callback"
                When a clerk files ticket "T-1"
                Then within 5 seconds the ticket status is "open"
            """),
        encoding="utf-8",
    )
    (tmp_path / "features" / "steps" / "steps.py").write_text(
        textwrap.dedent('''\
            from asyncbdd.steps import *  # noqa: F403
            from behave import when

            @when('a clerk files ticket "{ticket}"')
            def step_file_ticket(context, ticket):
                """Files a ticket through the help desk's API."""
            '''),
        encoding="utf-8",
    )
    (tmp_path / "features" / "environment.py").write_text(
        textwrap.dedent("""\
            import asyncbdd
            from asyncbdd.hooks import install_hooks

            asyncbdd.sql_probe("the ticket status", "SELECT status FROM tickets")

            def before_all(context):
                raise AssertionError("no hook may run while listing phrases")

            install_hooks(globals())
            """),
        encoding="utf-8",
    )
    (tmp_path / "setup.cfg").write_text(
        "[behave.userdata]\nasyncbdd.queues = tickets = sqs:https://clerk:pa55word@sqs.local/1/tickets\n",
        encoding="utf-8",
    )
    finished = _run("-m", "asyncbdd", "phrases", cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr
    text = finished.stdout
    assert "| `the ticket status` |" in text
    assert "| `shop-callback` |" in text
    assert (
        '| `When a clerk files ticket "<ticket>"` | Files a ticket through the help desk\'s API. |'
        in text
    )
    assert "pa55word" not in text
    assert "| `tickets` | `sqs:https://clerk:***@sqs.local/1/tickets` |" in text


def test_a_project_that_does_not_load_is_an_error(tmp_path: Path) -> None:
    """An environment.py that raises is reported with its error, and nothing is printed as
    if the project had no names."""
    (tmp_path / "features" / "steps").mkdir(parents=True)
    (tmp_path / "features" / "a.feature").write_text("Feature: a\n", encoding="utf-8")
    (tmp_path / "features" / "environment.py").write_text(
        "import no_such_module\n", encoding="utf-8"
    )
    finished = _run("-m", "asyncbdd", "phrases", cwd=tmp_path)
    assert finished.returncode == 1
    assert finished.stdout == ""
    assert "no_such_module" in finished.stderr
    assert "environment.py" in finished.stderr
