"""Keeping a DataTable in step with a read model without reloading it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.widgets import DataTable


def sync_rows(table: DataTable[str], rows: dict[str, dict[str, str]], *, in_order: bool = False) -> None:
    """Make ``table`` hold exactly ``rows`` (row key → column key → text): new rows are
    added, gone ones removed, and only the cells whose text changed are updated.

    With ``in_order`` the table also shows the rows in the order of ``rows`` (a feed, newest
    first): when that order changed, the rows are laid out anew and the cursor stays on the
    row it was on."""
    if in_order and [r.key.value for r in table.ordered_rows] != list(rows):
        restore_cursor = keep_cursor(table)
        table.clear()
        for key, values in rows.items():
            table.add_row(*values.values(), key=key)
        restore_cursor()
        return
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


def keep_cursor(table: DataTable[Any]) -> Callable[[], None]:
    """Remember the selected row's key before ``table`` is rebuilt; the returned function
    puts the cursor back on that row if it is still there. A screen reloads on every service
    event (each issuance, under traffic): the operator's selection must not jump to the top."""
    key = selected_key(table)

    def restore() -> None:
        if key is not None and key in table.rows:
            table.move_cursor(row=table.get_row_index(key))

    return restore
