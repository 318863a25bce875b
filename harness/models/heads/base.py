"""What every head offers the ranker: flat features in, one logit per task out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from harness.models.backbones.mlp import MLP
from harness.registry import PartConfig

__all__ = ["Head", "HeadConfig", "tower"]


class Head(nn.Module):
    """Maps the ranker's features to logits: ``(B, d_in) -> (B, tasks)``."""

    d_in: int
    tasks: int

    def forward(self, x: Tensor) -> Tensor:
        raise NotImplementedError


@dataclass(frozen=True)
class HeadConfig(PartConfig):
    """Base of a registered head's config (``HEADS``)."""

    def build(self, d_in: int, tasks: int) -> Head:
        raise NotImplementedError


def tower(d_in: int, dims: Sequence[int], *, dropout: float, activation: str) -> nn.Sequential:
    """An MLP of ``dims`` then ``Linear(., 1)``: one task's logit."""
    body = MLP(d_in, dims, dropout=dropout, activation=activation)
    return nn.Sequential(body, nn.Linear(body.d_out, 1))


def check_tasks(d_in: int, tasks: int) -> None:
    if d_in < 1:
        raise ValueError(f"d_in must be positive, got {d_in=}")
    if tasks < 1:
        raise ValueError(f"a head needs at least one task, got {tasks=}")
