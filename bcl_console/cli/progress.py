"""Progress bars of the long commands (``link``, ``demo``, ``backup restore``, ``settle
--out``, ``database copy``), drawn by rich on stderr: one bar per task, with its count,
share, rate, elapsed and remaining time.

Drawn only when stderr is a terminal and the command is not ``--json``: on a pipe, a
file or a dumb terminal nothing at all is written (no control codes), and stdout, where
the result goes, is never touched. Imported by the commands that draw (rich takes a
moment to import)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items a second, in the task's unit (rich's own speed column counts bytes)."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        unit = task.fields.get("unit", "")
        return Text("" if speed is None else f"{speed:,.0f} {unit}/s", style="progress.data.speed")


class Bars:
    """Use as a context manager around the work; ``update`` may be called from any thread
    (the linkage writer's, a copy's)."""

    def __init__(self, args: argparse.Namespace, unit: str) -> None:
        console = Console(stderr=True)
        self.shown = not getattr(args, "json", False) and console.is_terminal and not console.is_dumb_terminal
        self.unit = unit
        self._tasks: dict[str, TaskID] = {}
        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[unit]}"),
            TaskProgressColumn(), RateColumn(), TimeElapsedColumn(), TextColumn("elapsed,"),
            TimeRemainingColumn(), TextColumn("left"), console=console,
            redirect_stdout=False) if self.shown else None  # stdout is the result's, untouched

    def __enter__(self) -> Bars:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def update(self, label: str, done: int, total: int, *, unit: str | None = None,
               description: str | None = None) -> None:
        """Task ``label`` is at ``done`` of ``total`` (counted in ``unit``, else the bars'
        own; shown as ``description``, else its label)."""
        if self._progress is None or not total:
            return
        task = self._tasks.get(label)
        if task is None:
            task = self._tasks[label] = self._progress.add_task(label, total=total, unit=unit or self.unit)
        self._progress.update(task, completed=done, total=total, description=description or label)

    def print(self, line: str) -> None:
        """A line of log above the bars (only while they are shown)."""
        if self._progress is not None:
            self._progress.console.print(line, markup=False, highlight=False)

    def of(self, label: str) -> Callable[[int, int], None]:
        """The ``(done, total)`` callback of one task."""
        return lambda done, total: self.update(label, done, total)
