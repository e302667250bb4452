"""behave formatters that print the phrase catalogue of the project behave loaded::

    behave --dry-run -f asyncbdd.phrases:CatalogueFormatter -o phrases.md
    behave --dry-run -f asyncbdd.phrases:HtmlCatalogueFormatter -o phrases.html

With ``--dry-run`` no hook runs, so nothing starts; names registered as environment.py
loads are listed. The catalogue is written when the run ends (behave 1.3 and 1.2.6).
"""

from __future__ import annotations

from typing import Any

from behave.formatter.base import Formatter

from asyncbdd.phrases.catalogue import catalogue_of_loaded_project

__all__ = ["CatalogueFormatter", "HtmlCatalogueFormatter"]


class CatalogueFormatter(Formatter):  # type: ignore[misc]  # behave is untyped
    """Writes the phrase catalogue as Markdown when the run ends."""

    name = "asyncbdd.phrases"
    description = "asyncbdd's phrase catalogue, with the project's names (Markdown)"
    output_format = "markdown"

    def close(self) -> None:
        """Write the catalogue (behave calls this once, at the end of the run)."""
        text = catalogue_of_loaded_project(self.config, self.output_format)
        stream: Any = self.open()
        stream.write(text)
        self.close_stream()


class HtmlCatalogueFormatter(CatalogueFormatter):
    """Writes the phrase catalogue as a self-contained HTML page when the run ends."""

    name = "asyncbdd.phrases.html"
    description = "asyncbdd's phrase catalogue, with the project's names (one HTML page)"
    output_format = "html"
