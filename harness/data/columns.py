"""The names of the canonical columns a block carries besides the features (see
``harness/data/table.py``): each task's label, the group key and the time."""

from __future__ import annotations

__all__ = ["GROUP", "TASK_PREFIX", "TIME", "task_column"]

TASK_PREFIX = "__task:"
GROUP = "__group"
TIME = "__time"


def task_column(name: str) -> str:
    """The canonical column of a task's label."""
    return TASK_PREFIX + name
