"""Widgets shared by several screens."""

from bcl_console.screens.widgets.confirm import ConfirmDialog
from bcl_console.screens.widgets.form import FormDialog, FormField

__all__ = ["ConfirmDialog", "FormDialog", "FormField"]
