"""``EmbeddingTraining``: how a ranker's ID tables are trained (``[train.embeddings]``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.training.embeddings.base import (
    EmbeddingOptimizerConfig,
    EmbeddingScheduleConfig,
    NoScheduleConfig,
)
from harness.training.embeddings.sparse_adam import SparseAdamConfig

__all__ = ["EmbeddingTraining"]


@dataclass(frozen=True)
class EmbeddingTraining:
    """The ID tables' optimiser, schedule and regularisers: the remedies of the one-epoch
    phenomenon (ID embeddings memorise rare values in one pass and the model degrades from the
    second epoch), each searchable.

    Attributes:
        optimizer: ``sparse_adam`` (default), ``adagrad`` or ``rowwise_adagrad``, each with its
            own ``learning_rate`` (default: ``train.embedding_learning_rate``).
        schedule: ``none``, ``reset`` (re-drawn each epoch) or ``freeze`` (after k epochs).
        l2: L2 penalty on the rows each batch used (0: none).
        max_norm: the largest L2 norm a row may have (0: unbounded).
        dropout: dropout on the categorical embeddings' output while training.
    """

    optimizer: EmbeddingOptimizerConfig = field(default_factory=SparseAdamConfig)
    schedule: EmbeddingScheduleConfig = field(default_factory=NoScheduleConfig)
    l2: float = 0.0
    max_norm: float = 0.0
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if not self.l2 >= 0.0:
            raise ValueError(f"train.embeddings.l2 must be >= 0, got {self.l2!r}")
        if not self.max_norm >= 0.0:
            raise ValueError(
                f"train.embeddings.max_norm must be >= 0 (0: off), got {self.max_norm!r}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"train.embeddings.dropout must be in [0, 1), got {self.dropout!r}")

    def note(self) -> str:
        """What differs from the default, one line ("" when nothing does)."""
        parts = []
        if self.optimizer.kind != "sparse_adam":
            parts.append(f"ID optimiser {self.optimizer.kind}")
        if self.schedule.note():
            parts.append(self.schedule.note())
        for name in ("l2", "max_norm", "dropout"):
            if getattr(self, name):
                parts.append(f"ID {name} {getattr(self, name):g}")
        return ", ".join(parts)
