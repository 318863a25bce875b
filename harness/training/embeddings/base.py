"""What the parts of an ID embedding's training share: the tables they act on, and the two kinds
of registered part (an optimiser, a schedule) with the hooks the training loop calls."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from harness.registry import PartConfig

__all__ = [
    "EmbeddingOptimizerConfig",
    "EmbeddingScheduleConfig",
    "EpochHook",
    "NoScheduleConfig",
    "id_tables",
]


# Before epoch ``e`` (from 1): True when the tables were replaced (their optimiser starts afresh).
EpochHook = Callable[[int], bool]


def id_tables(model: nn.Module) -> list[nn.Embedding]:
    """The model's ID embedding tables: its sparse ``nn.Embedding`` modules (categorical
    embeddings and the wide part's first-order weights), each once, in module order."""
    seen: set[int] = set()
    tables: list[nn.Embedding] = []
    for m in model.modules():
        if isinstance(m, nn.Embedding) and m.sparse and id(m.weight) not in seen:
            seen.add(id(m.weight))
            tables.append(m)
    return tables


@dataclass(frozen=True)
class EmbeddingOptimizerConfig(PartConfig):
    """Base of a registered optimiser of the ID tables (``EMBEDDING_OPTIMIZERS``).

    Attributes:
        learning_rate: its own learning rate; None takes ``train.embedding_learning_rate``.
    """

    learning_rate: float | None = None

    def __post_init__(self) -> None:
        if self.learning_rate is not None and not self.learning_rate > 0.0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")

    def lr(self, default: float) -> float:
        return default if self.learning_rate is None else self.learning_rate

    def build(self, params: Sequence[nn.Parameter], default_lr: float) -> torch.optim.Optimizer:
        """The optimiser of ``params`` (the tables' weights, sparse gradients)."""
        raise NotImplementedError


@dataclass(frozen=True)
class EmbeddingScheduleConfig(PartConfig):
    """Base of a registered schedule of the ID tables across epochs (``EMBEDDING_SCHEDULES``)."""

    def start(self, tables: Sequence[nn.Embedding]) -> EpochHook:
        """Before training: what to do before each epoch (called with the epoch, from 1; it
        returns True when the tables' values were replaced and their optimiser must start
        afresh)."""
        return lambda _epoch: False

    def note(self) -> str:
        """One line for a trial's notes ("" for none)."""
        return ""


@dataclass(frozen=True)
class NoScheduleConfig(EmbeddingScheduleConfig):
    """The tables train every epoch like every other weight."""
