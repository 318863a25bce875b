"""``reset``: the ID tables drawn afresh at the start of every epoch after the first, the rest
of the model kept (MEDA, arXiv 2407.01607).

The dense layers keep what they learnt from the data while the embeddings, which memorise rare
ids in one pass, start over each epoch: the model sees every row again without the memorised
rows. A table is redrawn from the normal distribution of its initial values (mean 0, the
standard deviation it had before training), and its optimiser starts afresh.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from harness.training.embeddings.base import EmbeddingScheduleConfig, EpochHook

__all__ = ["ResetConfig"]


@dataclass(frozen=True)
class ResetConfig(EmbeddingScheduleConfig):
    """Re-initialise the ID tables before each epoch from the second on."""

    def start(self, tables: Sequence[nn.Embedding]) -> EpochHook:
        stds = [float(t.weight.detach().float().std()) for t in tables]

        def before(epoch: int) -> bool:
            if epoch == 1:
                return False
            with torch.no_grad():
                for t, std in zip(tables, stds, strict=True):
                    t.weight.normal_(0.0, std)
            return True

        return before

    def note(self) -> str:
        return "ID tables reset each epoch"
