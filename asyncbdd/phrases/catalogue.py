"""The phrase catalogue of the project in the current directory, as Markdown or HTML.

Used by ``asyncbdd phrases`` (which loads the project itself) and by the behave formatter
(for which behave has loaded it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from asyncbdd.behave_project import NotAProject, behave_configuration, load_project, settings_of
from asyncbdd.phrases.document import catalogue_document, render_html, render_markdown
from asyncbdd.phrases.project import read_vocabulary

__all__ = ["FORMATS", "catalogue_of_current_directory", "catalogue_of_loaded_project"]

FORMATS = ("markdown", "html")


def catalogue_of_current_directory(
    output_format: str = "markdown", defines: Sequence[str] = ()
) -> str:
    """The catalogue, with the names of the project in the current directory if there is
    one (loaded as behave would, starting nothing); ``defines`` are ``-D name=value``."""
    config = behave_configuration(defines)
    with settings_of(config) as settings:
        try:
            directory = load_project(config)
        except NotAProject as error:
            document = catalogue_document(
                settings, None, note=f"{error}; run the command in one to list its names."
            )
        else:
            document = catalogue_document(settings, read_vocabulary(directory, settings))
    return _rendered(document, output_format)


def catalogue_of_loaded_project(config: Any, output_format: str = "markdown") -> str:
    """The catalogue of the project behave has loaded with ``config`` (in a formatter)."""
    directory = Path(getattr(config, "base_dir", None) or Path.cwd())
    with settings_of(config) as settings:
        document = catalogue_document(settings, read_vocabulary(directory, settings))
    return _rendered(document, output_format)


def _rendered(document: Any, output_format: str) -> str:
    if output_format not in FORMATS:
        raise ValueError(
            f"unknown catalogue format {output_format!r}: write one of {', '.join(FORMATS)}"
        )
    return render_html(document) if output_format == "html" else render_markdown(document)
