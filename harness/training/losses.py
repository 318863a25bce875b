"""The training loss of a ranker: binary cross-entropy on logits, a weighted mean over tasks.

The loop uses `task_loss` unless a fit brings its own `LossFn` (distillation's mix of labels and
a teacher's scores, `harness.training.distill`, which builds on `task_loss`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch.nn.functional as F
from torch import Tensor

__all__ = ["LossFn", "task_loss"]

# (fp32 logits (B, outputs), the batch's labels) -> the loss to minimise.
LossFn = Callable[[Tensor, Tensor], Tensor]


def task_loss(logits: Tensor, y: Tensor, weights: Tensor | None = None) -> Tensor:
    """Binary cross-entropy on logits ``(B, tasks)``: the (weighted) mean over tasks.

    Args:
        logits: the model's output.
        y: 0/1 labels of the same shape.
        weights: one non-negative weight per task, or None for equal weights.
    """
    if logits.shape != y.shape:
        raise ValueError(f"logits and labels differ: {tuple(logits.shape)=} {tuple(y.shape)=}")
    if weights is None:
        return F.binary_cross_entropy_with_logits(logits, y)
    per_task = F.binary_cross_entropy_with_logits(logits, y, reduction="none").mean(dim=0)
    return (per_task * weights).sum() / weights.sum()
