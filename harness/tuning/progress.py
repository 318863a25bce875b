"""The live display of one model's tuning: trials done, elapsed time, best AUC, latest epoch.

Fixed-width columns come first (counts and times are never cut at 80 columns); the free text
at the end is what gets shortened. The display draws on the stream the console had when it was
created, so it keeps moving while Ray Tune's own output is redirected.
"""

from __future__ import annotations

import math
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column

__all__ = ["TuningProgress"]


class TuningProgress:
    """A rich progress bar for one model: ``update`` after each trial and each epoch."""

    def __init__(self, console: Console, model: str, total: int, *, enabled: bool) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=12),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            TextColumn(
                "{task.fields[status]}",
                table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1, min_width=10),
            ),
            console=console,
            disable=not enabled,
            expand=True,
        )
        self._task: TaskID = self._progress.add_task(
            escape(model), total=total, status="starting trials"
        )
        self._best = -math.inf
        self._done = self._pruned = self._failed = 0
        self._latest = ""

    def __enter__(self) -> TuningProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def trial_done(self, status: str, valid_auc: float | None) -> None:
        self._done += 1
        self._pruned += status == "pruned"
        self._failed += status == "failed"
        if valid_auc is not None and math.isfinite(valid_auc):
            self._best = max(self._best, valid_auc)
        self._show()

    def epoch(self, trial: str, epoch: int, valid_auc: float | None) -> None:
        auc = "-" if valid_auc is None else f"{valid_auc:.4f}"
        self._latest = f"trial {trial} epoch {epoch} AUC {auc}"
        self._show()

    def text(self) -> str:
        best = f"{self._best:.4f}" if self._best > -math.inf else "-"
        parts = [f"best {best}"]
        if self._pruned:
            parts.append(f"pruned {self._pruned}")
        if self._failed:
            parts.append(f"failed {self._failed}")
        if self._latest:
            parts.append(self._latest)
        return " · ".join(parts)

    def _show(self) -> None:
        self._progress.update(self._task, completed=self._done, status=escape(self.text()))
