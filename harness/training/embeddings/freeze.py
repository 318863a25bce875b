"""``freeze``: the ID tables stop training after epoch k; the dense layers go on.

The embeddings have seen every row ``k`` times and stop there, before they memorise further;
the rest of the model keeps learning on top of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from harness.training.embeddings.base import EmbeddingScheduleConfig, EpochHook

__all__ = ["FreezeConfig", "freeze_tables"]


def freeze_tables(tables: Sequence[nn.Embedding]) -> None:
    """No gradient for ``tables`` from now on (their optimiser then leaves them unchanged)."""
    for t in tables:
        t.weight.requires_grad_(False)
        t.weight.grad = None


@dataclass(frozen=True)
class FreezeConfig(EmbeddingScheduleConfig):
    """Freeze the ID tables after ``after_epochs`` epochs.

    Attributes:
        after_epochs: epochs the tables train (at least 1).
    """

    after_epochs: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.after_epochs, int) or self.after_epochs < 1:
            raise ValueError(f"after_epochs must be an integer >= 1, got {self.after_epochs!r}")

    def start(self, tables: Sequence[nn.Embedding]) -> EpochHook:
        def before(epoch: int) -> bool:
            if epoch == self.after_epochs + 1:
                freeze_tables(tables)
            return False

        return before

    def note(self) -> str:
        return f"ID tables frozen after epoch {self.after_epochs}"
