"""Keeping a DataTable in step with a read model without reloading it."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable


def sync_rows(table: DataTable[str], rows: dict[str, dict[str, str]]) -> None:
    """Make ``table`` hold exactly ``rows`` (row key → column key → text): new rows are
    added, gone ones removed, and only the cells whose text changed are updated."""
    for key, values in rows.items():
        if key in table.rows:
            for column, value in values.items():
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value)
        else:
            table.add_row(*values.values(), key=key)
    for gone in [k for k in table.rows if k.value not in rows]:
        table.remove_row(gone)


def selected_key(table: DataTable[Any]) -> str | None:
    """The row key under the cursor, or None for an empty (or hidden) table."""
    if table.row_count == 0 or not table.display:
        return None
    return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
