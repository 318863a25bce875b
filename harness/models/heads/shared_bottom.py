"""``shared_bottom``: the backbone is shared by the tasks, then one MLP tower per task."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.backbones.base import Activation, check_layer_options
from harness.models.backbones.mlp import check_dims
from harness.models.heads.base import Head, HeadConfig, check_tasks, tower

__all__ = ["SharedBottom", "SharedBottomConfig"]


class SharedBottom(Head):
    """One tower per task (an MLP then a logit) over the shared features.

    **Shape**: ``(B, d_in) -> (B, tasks)``.
    """

    def __init__(
        self,
        d_in: int,
        tasks: int,
        *,
        tower_dims: tuple[int, ...] = (64,),
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        check_tasks(d_in, tasks)
        self.d_in, self.tasks = d_in, tasks
        self.towers = nn.ModuleList(
            tower(d_in, tower_dims, dropout=dropout, activation=activation) for _ in range(tasks)
        )

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([t(x) for t in self.towers], dim=1)


@dataclass(frozen=True)
class SharedBottomConfig(HeadConfig):
    """``shared_bottom``: a tower per task over the shared backbone.

    Attributes:
        tower_dims: hidden widths of each task's tower.
        dropout: in the towers.
        activation: in the towers.
    """

    tower_dims: tuple[int, ...] = (64,)
    dropout: float = 0.0
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tower_dims", check_dims("tower_dims", self.tower_dims))
        check_layer_options(self.dropout, self.activation, "none")

    def build(self, d_in: int, tasks: int) -> SharedBottom:
        return SharedBottom(
            d_in,
            tasks,
            tower_dims=self.tower_dims,
            dropout=self.dropout,
            activation=self.activation,
        )
