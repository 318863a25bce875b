"""``CrossNetV2``: the DCN-v2 cross network (Wang et al., 2021, arXiv:2008.13535)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from harness.models.interactions.base import Interaction

__all__ = ["CrossNetV2"]


class _LowRank(nn.Module):
    """``x -> U (V^T x) + b`` with ``U, V`` of shape ``(d, rank)``, so ``W = U V^T``."""

    def __init__(self, d: int, rank: int) -> None:
        super().__init__()
        self.down = nn.Linear(d, rank, bias=False)  # weight is V^T, (rank, d)
        self.up = nn.Linear(rank, d)  # weight is U, (d, rank); bias b

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.up(self.down(x))
        return out


class CrossNetV2(Interaction):
    """Explicit feature crosses: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` for ``n_layers`` layers.

    ``W_l`` is a full ``d_in x d_in`` matrix, or ``U_l V_l^T`` of rank ``rank`` when ``rank`` is
    given (the paper's low-rank DCN-Mix without the mixture of experts). Layer ``l`` models
    feature interactions up to degree ``l + 1``; the residual ``+ x_l`` keeps lower degrees.

    NOTE[PAPER]: the paper's low-rank variant also applies a non-linearity in the rank-``r``
    subspace and mixes several experts; this is the plain ``U V^T`` factorisation.

    **Shape**: ``(B, d_in) -> (B, d_in)``. ``n_layers=0`` is the identity (a plain MLP ranker).

    **Examples**

    >>> m = CrossNetV2(8, 2, rank=4)
    >>> m(torch.randn(3, 8)).shape
    torch.Size([3, 8])
    """

    def __init__(self, d_in: int, n_layers: int = 3, *, rank: int | None = None) -> None:
        """
        Args:
            d_in: width of the flat input vector ``x_0``.
            n_layers: cross layers; 0 passes the input through.
            rank: ``None`` for full-rank ``W``; else the rank of ``W = U V^T``, in ``[1, d_in]``.
        """
        super().__init__()
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        if n_layers < 0:
            raise ValueError(f"n_layers must be non-negative, got {n_layers=}")
        if rank is not None and not 1 <= rank <= d_in:
            raise ValueError(f"rank must be None (full rank) or in [1, {d_in=}], got {rank=}")
        self.d_in = d_in
        self.d_out = d_in
        self.rank = rank
        self.layers = nn.ModuleList(
            nn.Linear(d_in, d_in) if rank is None else _LowRank(d_in, rank) for _ in range(n_layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 2 or x.shape[1] != self.d_in:
            raise ValueError(f"expected input of shape (B, {self.d_in}), got {tuple(x.shape)=}")
        x0 = x
        for layer in self.layers:
            # x + x0 * layer(x) in one fused kernel.
            x = torch.addcmul(x, x0, layer(x))
        return x
