"""``linear``: one linear logit per task on the shared features."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from harness.models.heads.base import Head, HeadConfig, check_tasks

__all__ = ["LinearHead", "LinearHeadConfig"]


class LinearHead(Head):
    """``Linear(d_in, tasks)``. **Shape**: ``(B, d_in) -> (B, tasks)``."""

    def __init__(self, d_in: int, tasks: int) -> None:
        super().__init__()
        check_tasks(d_in, tasks)
        self.d_in, self.tasks = d_in, tasks
        self.linear = nn.Linear(d_in, tasks)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.linear(x)
        return out


@dataclass(frozen=True)
class LinearHeadConfig(HeadConfig):
    """``linear``: a linear logit per task."""

    def build(self, d_in: int, tasks: int) -> LinearHead:
        return LinearHead(d_in, tasks)
