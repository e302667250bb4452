"""What a step carries beside its text: the step as written, its JSON doc string, its table.

Doc strings and table cells have the scenario's placeholders (``{order_id}``) expanded.
"""

from __future__ import annotations

from typing import Any

from asyncbdd.errors import InvalidInput
from asyncbdd.matching import parse_json_document
from asyncbdd.scenario import current_scenario

__all__ = ["json_doc_string", "step_text", "table_cells"]


def step_text(context: Any) -> str | None:
    """The running step as written ("Then within 10 seconds ..."), if the hooks know it."""
    state = getattr(context, "asyncbdd", None)
    return None if state is None else state.current_step


def json_doc_string(context: Any) -> Any:
    """The step's doc string, placeholders expanded, parsed as JSON (errors say where)."""
    text = getattr(context, "text", None)
    if text is None:
        raise InvalidInput(
            f"The step {step_text(context) or ''!r} needs a JSON doc string below it "
            '(between lines of """).'
        )
    what = f"the doc string of step {step_text(context) or ''!r}"
    return parse_json_document(current_scenario().expand(text), what)


def table_cells(context: Any, columns: str) -> tuple[list[str], list[list[str]]]:
    """The step's table headings and rows, placeholders expanded in every cell.

    ``columns`` says what the table should hold, for the error when there is none.
    """
    table = getattr(context, "table", None)
    if table is None:
        raise InvalidInput(
            f"The step {step_text(context) or ''!r} needs a table below it: {columns}."
        )
    state = current_scenario()
    rows = [[state.expand(cell) for cell in row.cells] for row in table.rows]
    return list(table.headings), rows
