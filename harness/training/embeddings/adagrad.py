"""Adagrad on the ID tables: one accumulator per weight, sparse updates (torch's ``Adagrad``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from harness.training.embeddings.base import EmbeddingOptimizerConfig

__all__ = ["AccumulatorConfig", "AdagradConfig"]


@dataclass(frozen=True)
class AccumulatorConfig(EmbeddingOptimizerConfig):
    """The settings of the Adagrad kinds: an accumulator of squared gradients.

    Attributes:
        initial_accumulator: the accumulators' starting value.
        eps: added to the denominator.
    """

    initial_accumulator: float = 0.0
    eps: float = 1e-10

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.initial_accumulator >= 0.0 or not self.eps > 0.0:
            raise ValueError(
                f"need initial_accumulator >= 0 and eps > 0, got {self.initial_accumulator=} "
                f"{self.eps=}"
            )


@dataclass(frozen=True)
class AdagradConfig(AccumulatorConfig):
    """Adagrad: a weight's step shrinks with the squared gradients it has seen, so frequent ids
    slow down and rare ones keep learning (one accumulator per weight)."""

    def build(self, params: Sequence[nn.Parameter], default_lr: float) -> torch.optim.Optimizer:
        return torch.optim.Adagrad(
            list(params),
            lr=self.lr(default_lr),
            initial_accumulator_value=self.initial_accumulator,
            eps=self.eps,
        )
