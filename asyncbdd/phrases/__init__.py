"""The phrase catalogue: every phrase asyncbdd's steps offer, in plain words, for the people
who write features.

``asyncbdd phrases`` prints it (Markdown, or ``--format html`` for a wiki); inside a
project it lists the project's probes, snapshot subjects, queues, traces, webhook
receivers and own steps too. In a behave run::

    behave --dry-run -f asyncbdd.phrases:CatalogueFormatter

:mod:`~asyncbdd.phrases.entries` holds the text; :mod:`~asyncbdd.phrases.coverage` holds
it against the registered steps (the tests require every step to be covered, and every
example to match exactly one step).
"""

from asyncbdd.phrases.catalogue import (
    FORMATS,
    catalogue_of_current_directory,
    catalogue_of_loaded_project,
)
from asyncbdd.phrases.entries import CATALOGUE, Phrase
from asyncbdd.phrases.formatter import CatalogueFormatter, HtmlCatalogueFormatter

__all__ = [
    "CATALOGUE",
    "FORMATS",
    "CatalogueFormatter",
    "HtmlCatalogueFormatter",
    "Phrase",
    "catalogue_of_current_directory",
    "catalogue_of_loaded_project",
]
