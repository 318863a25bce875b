"""``TrainConfig``: how the training loop optimises a neural ranker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from harness.training.distill import DistillConfig
from harness.training.embeddings.config import EmbeddingTraining
from harness.training.loader import LOADER_MODES, LoaderMode
from harness.training.matryoshka import MatryoshkaConfig
from harness.training.pretrain import PretrainConfig

__all__ = ["LoaderMode", "Precision", "TrainConfig"]

Precision = Literal["auto", "fp32", "bf16"]
_PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Optimiser, batching and early-stopping settings of ``harness.training.fit``.

    Attributes:
        batch_size: training rows per step.
        max_epochs: passes over the training split at most.
        patience: epochs without a better validation AUC before stopping.
        learning_rate: Adam(W) learning rate of the dense parameters.
        embedding_learning_rate: the learning rate of the ID tables' optimiser (unless
            ``embeddings.optimizer.learning_rate`` sets its own).
        weight_decay: decoupled (AdamW) weight decay of the dense parameters only; SparseAdam
            has none, and decaying every row each step would make the update dense again.
        eval_batch_size: rows per forward pass when scoring validation and test.
        loader: ``"memory"`` shuffles all rows in RAM, ``"blocks"`` reads contiguous blocks in
            shuffled order and shuffles rows within a block (for memory-mapped splits larger
            than RAM), ``"auto"`` picks ``"blocks"`` for a memory-mapped split.
        block_rows: rows per block in ``"blocks"`` mode (rounded up to whole batches).
        task_weights: the weight of each task's loss (one per label, in the schema's order);
            empty weighs every task 1. The loss is the weighted mean of per-task binary
            cross-entropies. Early stopping and the search follow the first task whatever its
            weight: put the task to rank models by first in the dataset card.
        precision: ``"bf16"`` runs the forward passes (training and scoring) under bf16
            autocast, with the loss, the weights and the optimiser states kept in fp32; where
            the device has no native bf16 the fit trains in fp32 and says so in its notes.
            ``"auto"`` turns bf16 on only where ``benchmarks/precision.py`` measured it faster
            at equal quality (`harness.training.precision.resolve_precision`); ``"fp32"``
            never.
        evals_per_epoch: validation scores per epoch (1: at each epoch end): with more, the
            curve also has points within each epoch (the one-epoch study's learning curves);
            early stopping and the best weights still follow the epoch ends.
        embeddings: how the ID tables train: their optimiser, a schedule (``reset``,
            ``freeze``), L2 on the rows a batch used, max-norm, dropout (`EmbeddingTraining`).
        pretrain: a contrastive stage on the ID embeddings before the ranker trains, which
            then fine-tunes or freezes them (`PretrainConfig`; off by default).
        distill: learn from a teacher's scores of the training rows as well as the labels
            (`DistillConfig`; off by default).
        matryoshka: nested-prefix losses on the categorical embeddings, so that the ranker
            can be served with its ID tables cut to a prefix of their columns, and scores at
            each size after the fit (`MatryoshkaConfig`; off by default; a step then costs
            ``1 + len(sizes)`` forward passes).
    """

    batch_size: int = 4096
    max_epochs: int = 3
    patience: int = 1
    learning_rate: float = 1e-3
    embedding_learning_rate: float = 1e-3
    weight_decay: float = 0.0
    eval_batch_size: int = 16384
    loader: LoaderMode = "auto"
    block_rows: int = 1 << 20
    task_weights: tuple[float, ...] = ()
    precision: Precision = "auto"
    evals_per_epoch: int = 1
    embeddings: EmbeddingTraining = field(default_factory=EmbeddingTraining)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    matryoshka: MatryoshkaConfig = field(default_factory=MatryoshkaConfig)

    def __post_init__(self) -> None:
        positive = ("batch_size", "max_epochs", "patience", "eval_batch_size", "block_rows")
        for name in (*positive, "evals_per_epoch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name} must be a positive integer, got {value!r}")
        for name in ("learning_rate", "embedding_learning_rate"):
            value = getattr(self, name)
            if not value > 0.0:
                raise ValueError(f"TrainConfig.{name} must be positive, got {value!r}")
        if not self.weight_decay >= 0.0:
            raise ValueError(
                f"TrainConfig.weight_decay must be non-negative, got {self.weight_decay!r}"
            )
        weights = self.task_weights
        if not isinstance(weights, tuple) or not all(
            isinstance(w, int | float) and not isinstance(w, bool) and w >= 0 for w in weights
        ):
            raise ValueError(
                f"TrainConfig.task_weights must be non-negative numbers, got {weights!r}"
            )
        if weights and not sum(weights) > 0:
            raise ValueError(f"TrainConfig.task_weights must not all be 0, got {weights!r}")
        if self.loader not in LOADER_MODES:
            raise ValueError(
                f"TrainConfig.loader must be one of {', '.join(LOADER_MODES)}, got {self.loader!r}"
            )
        if self.precision not in _PRECISIONS:
            raise ValueError(
                f"TrainConfig.precision must be one of {', '.join(_PRECISIONS)}, "
                f"got {self.precision!r}"
            )
