"""``mmoe``: multi-gate mixture of experts (Ma et al., 2018, KDD)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.backbones.base import Activation, check_layer_options
from harness.models.backbones.mlp import MLP, check_dims
from harness.models.heads.base import Head, HeadConfig, check_tasks, tower

__all__ = ["MMoE", "MMoEConfig"]


class MMoE(Head):
    """``K`` expert MLPs shared by the tasks; per task a softmax gate over them and a tower.

    Task ``t``'s logit is ``tower_t(sum_k g_t(x)_k * expert_k(x))`` with
    ``g_t = softmax(W_t x)``: tasks that conflict can weight different experts, where a shared
    bottom forces one representation on all of them.

    **Shape**: ``(B, d_in) -> (B, tasks)``.

    **Examples**

    >>> m = MMoE(8, 2, experts=3, expert_dims=(16,), tower_dims=(4,))
    >>> m(torch.randn(5, 8)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        d_in: int,
        tasks: int,
        *,
        experts: int = 4,
        expert_dims: tuple[int, ...] = (128,),
        tower_dims: tuple[int, ...] = (64,),
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        super().__init__()
        check_tasks(d_in, tasks)
        if experts < 1:
            raise ValueError(f"experts must be at least 1, got {experts=}")
        if not expert_dims:
            raise ValueError(f"expert_dims must name at least one layer, got {expert_dims=}")
        self.d_in, self.tasks = d_in, tasks
        self.experts = nn.ModuleList(
            MLP(d_in, expert_dims, dropout=dropout, activation=activation) for _ in range(experts)
        )
        self.gates = nn.Linear(d_in, tasks * experts)
        self.n_experts = experts
        self.towers = nn.ModuleList(
            tower(expert_dims[-1], tower_dims, dropout=dropout, activation=activation)
            for _ in range(tasks)
        )

    def gate_weights(self, x: Tensor) -> Tensor:
        """Each task's softmax over the experts, ``(B, tasks, experts)``."""
        logits = self.gates(x).view(x.shape[0], self.tasks, self.n_experts)
        return torch.softmax(logits, dim=-1)

    def forward(self, x: Tensor) -> Tensor:
        experts = torch.stack([e(x) for e in self.experts], dim=1)  # (B, K, h)
        mixed = torch.bmm(self.gate_weights(x), experts)  # (B, tasks, h)
        return torch.cat([t(mixed[:, i]) for i, t in enumerate(self.towers)], dim=1)


@dataclass(frozen=True)
class MMoEConfig(HeadConfig):
    """``mmoe``: shared experts, a softmax gate and a tower per task.

    Attributes:
        experts: number of expert MLPs ``K``.
        expert_dims: hidden widths of each expert.
        tower_dims: hidden widths of each task's tower.
        dropout: in experts and towers.
        activation: in experts and towers.
    """

    experts: int = 4
    expert_dims: tuple[int, ...] = (128,)
    tower_dims: tuple[int, ...] = (64,)
    dropout: float = 0.0
    activation: Activation = "relu"

    def __post_init__(self) -> None:
        if self.experts < 1:
            raise ValueError(f"experts must be >= 1, got {self.experts=}")
        object.__setattr__(self, "expert_dims", check_dims("expert_dims", self.expert_dims))
        object.__setattr__(self, "tower_dims", check_dims("tower_dims", self.tower_dims))
        if not self.expert_dims:
            raise ValueError(f"expert_dims must name at least one layer, got {self.expert_dims=}")
        check_layer_options(self.dropout, self.activation, "none")

    def build(self, d_in: int, tasks: int) -> MMoE:
        return MMoE(
            d_in,
            tasks,
            experts=self.experts,
            expert_dims=self.expert_dims,
            tower_dims=self.tower_dims,
            dropout=self.dropout,
            activation=self.activation,
        )
