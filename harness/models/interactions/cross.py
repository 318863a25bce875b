"""``cross``: the DCN-v2 cross network (Wang et al., 2021, arXiv:2008.13535)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.spec import TensorSpec

__all__ = ["CrossConfig", "CrossNetV2"]


class _LowRank(nn.Module):
    """``x -> U (V^T x) + b`` with ``U, V`` of shape ``(d, rank)``, so ``W = U V^T``."""

    def __init__(self, d: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(d, rank, bias=False)  # weight is V^T, (rank, d)
        self.up = nn.Linear(rank, d)  # weight is U, (d, rank); bias b

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.up(self.down(x))
        return out


class _Mixture(nn.Module):
    """The inner map of one DCN-Mix layer: ``x -> sum_i G_i(x) (U_i tanh(C_i tanh(V_i^T x)) + b)``.

    The layer is ``x0 * mixture(x) + x``, since ``sum_i G_i(x) x0 * E_i(x) = x0 * sum_i G_i(x)
    E_i(x)``. The experts' weights are stacked so that a layer is three batched matrix products,
    whatever the number of experts; the gate is a softmax over ``Linear(d, experts)`` of ``x``.
    """

    def __init__(self, d: int, rank: int, experts: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(d)
        self.v = nn.Parameter(torch.empty(experts, d, rank).uniform_(-bound, bound))
        self.c = nn.Parameter(torch.empty(experts, rank, rank).uniform_(-bound, bound))
        self.u = nn.Parameter(torch.empty(experts, rank, d).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.zeros(d))
        self.gate = nn.Linear(d, experts, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        low = torch.tanh(torch.einsum("bd,edr->ber", x, self.v))
        low = torch.tanh(torch.einsum("ber,ers->bes", low, self.c))
        up = torch.einsum("bes,esd->bed", low, self.u) + self.bias  # (B, E, d)
        gates = torch.softmax(self.gate(x), dim=-1)  # (B, E)
        return torch.einsum("be,bed->bd", gates, up)


class CrossNetV2(Interaction):
    """Explicit feature crosses: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` for ``n_layers`` layers.

    ``W_l`` is a full ``d_in x d_in`` matrix (``rank=None``), the low-rank ``U_l V_l^T``
    (``rank=r``, one expert), or a gated mixture of ``experts`` low-rank experts with ``tanh`` in
    the rank-``r`` subspace (the paper's DCN-Mix, ``experts >= 2``). Layer ``l`` models
    interactions up to degree ``l + 1``; the residual ``+ x_l`` keeps the lower degrees.

    NOTE[PAPER]: with one expert the low-rank layer is the plain ``U V^T`` factorisation (the
    paper's cost-saving DCN-V2 variant); the ``tanh``/``C`` non-linearity comes with the mixture.

    **Shape**: ``(B, d_in) -> (B, d_in)``. ``n_layers=0`` is the identity.

    **Examples**

    >>> m = CrossNetV2(8, 2, rank=4, experts=3)
    >>> m(torch.randn(5, 8)).shape
    torch.Size([5, 8])
    """

    def __init__(
        self, d_in: int, n_layers: int = 3, *, rank: int | None = None, experts: int = 1
    ) -> None:
        """
        Args:
            d_in: width of the flat input vector ``x_0``.
            n_layers: cross layers; 0 passes the input through.
            rank: ``None`` or 0 for full-rank ``W``; else the rank of each expert, in
                ``[1, d_in]``.
            experts: low-rank experts per layer; 2 or more need a ``rank``.
        """
        super().__init__()
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        if n_layers < 0:
            raise ValueError(f"n_layers must be non-negative, got {n_layers=}")
        rank = rank or None  # 0, like None, is full rank
        if rank is not None and not 1 <= rank <= d_in:
            raise ValueError(f"rank must be 0 (full rank) or in [1, {d_in=}], got {rank=}")
        if experts < 1:
            raise ValueError(f"experts must be at least 1, got {experts=}")
        if experts > 1 and rank is None:
            raise ValueError(f"a mixture of {experts=} is low-rank: give a rank, got {rank=}")
        self.input = self.output = TensorSpec.flat(d_in)
        self.d_in = self.d_out = d_in
        self.rank = rank
        self.experts = experts
        layers: list[nn.Module] = []
        for _ in range(n_layers):
            if experts > 1:
                assert rank is not None
                layers.append(_Mixture(d_in, rank, experts))
            else:
                layers.append(nn.Linear(d_in, d_in) if rank is None else _LowRank(d_in, rank))
        self.layers = nn.ModuleList(layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"expected input of shape (B, {self.d_in}), got {tuple(x.shape)=}")
        x0 = x
        for layer in self.layers:
            # x + x0 * layer(x) in one fused kernel.
            x = torch.addcmul(x, x0, layer(x))
        return x


@dataclass(frozen=True)
class CrossConfig(InteractionConfig):
    """``cross``: DCN-v2 cross layers on the flat vector.

    Attributes:
        layers: cross layers (interactions up to degree ``layers + 1``).
        rank: 0 for full-rank layers (DCN-v2), else the rank of ``W = U V^T`` per expert.
        experts: low-rank experts per layer; 2 or more make it DCN-Mix (needs ``rank``).
    """

    layers: int = 3
    rank: int = 0
    experts: int = 1

    def __post_init__(self) -> None:
        if self.layers < 0:
            raise ValueError(f"layers must be >= 0, got {self.layers=}")
        if self.rank < 0:
            raise ValueError(f"rank must be 0 (full rank) or positive, got {self.rank=}")
        if self.experts < 1:
            raise ValueError(f"experts must be >= 1, got {self.experts=}")
        if self.experts > 1 and self.rank == 0:
            raise ValueError(
                f"experts={self.experts} is a mixture of low-rank experts: set a rank > 0"
            )

    def build(self, inputs: TensorSpec) -> CrossNetV2:
        return CrossNetV2(inputs.width, self.layers, rank=self.rank or None, experts=self.experts)
