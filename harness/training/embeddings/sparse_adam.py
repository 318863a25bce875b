"""Sparse Adam: Adam's moments for the rows a batch used only (torch's ``SparseAdam``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from harness.training.embeddings.base import EmbeddingOptimizerConfig

__all__ = ["SparseAdamConfig"]


@dataclass(frozen=True)
class SparseAdamConfig(EmbeddingOptimizerConfig):
    """Adam on the rows of each batch (the default): two moments per weight, lazily updated."""

    def build(self, params: Sequence[nn.Parameter], default_lr: float) -> torch.optim.Optimizer:
        return torch.optim.SparseAdam(list(params), lr=self.lr(default_lr))
