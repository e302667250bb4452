"""Test data: rows a scenario puts in its database, taken back when it ends.

::

    Given the "stock" table has:
      | sku   | quantity |
      | sku-9 | 10       |
    Given the "stock" table has, kept after the scenario:
      | sku   | quantity |
      | sku-1 | 5        |
    Given the "stock" table has no rows where sku is "sku-9b"

See :mod:`asyncbdd.test_data`: rows are upserted by primary key, and put back as they
were at the end of the scenario (unless kept).
"""

from __future__ import annotations

from typing import Any

from asyncbdd.matching import parse_value
from asyncbdd.steps import parameter_types  # noqa: F401  (registers {x:Value} and co.)
from asyncbdd.steps.decorators import given
from asyncbdd.steps.step_text import table_cells
from asyncbdd.test_data import delete_rows, put_rows

_ROWS = "a heading of column names, then one row per line, e.g. | sku | quantity |"


@given('the "{table}" table has:')
def step_table_has(context: Any, table: str) -> None:
    """Upsert the rows below into ``table``; they are put back at the scenario's end."""
    put_rows(table, _rows(context))


@given('the "{table}" table has, kept after the scenario:')
def step_table_has_kept(context: Any, table: str) -> None:
    """Upsert the rows below into ``table``, and leave them there."""
    put_rows(table, _rows(context), keep=True)


@given('the "{table}" table has no rows where {column} is {value:Value}')
def step_table_has_no_rows_where(context: Any, table: str, column: str, value: object) -> None:
    """Delete the rows where ``column`` is ``value``; they come back at the scenario's end."""
    delete_rows(table, {column: value})


def _rows(context: Any) -> list[dict[str, object]]:
    headings, rows = table_cells(context, _ROWS)
    names = [heading.strip() for heading in headings]
    return [
        {name: parse_value(cell) for name, cell in zip(names, row, strict=True)} for row in rows
    ]
