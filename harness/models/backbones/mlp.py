"""``MLP``: Linear -> activation -> dropout blocks."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from harness.models.backbones.base import Backbone

__all__ = ["ACTIVATIONS", "MLP"]

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


class MLP(Backbone):
    """A stack of ``Linear(d_prev, d) -> activation -> Dropout(dropout)`` blocks.

    **Shape**: ``(B, d_in) -> (B, dims[-1])``; with ``dims=()`` it is the identity and
    ``d_out == d_in``.

    **Examples**

    >>> m = MLP(8, (16, 4), dropout=0.1)
    >>> m(torch.randn(3, 8)).shape
    torch.Size([3, 4])
    """

    def __init__(
        self,
        d_in: int,
        dims: Sequence[int] = (512, 256),
        *,
        dropout: float = 0.0,
        activation: str = "relu",
    ) -> None:
        """
        Args:
            d_in: input width.
            dims: widths of the hidden layers, in order.
            dropout: dropout probability after each activation, in ``[0, 1)``.
            activation: a key of ``ACTIVATIONS``.
        """
        super().__init__()
        dims = tuple(int(d) for d in dims)
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        if any(d < 1 for d in dims):
            raise ValueError(f"every hidden width must be positive, got {dims=}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout=}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown {activation=}; valid: {', '.join(ACTIVATIONS)}")
        self.d_in = d_in
        self.d_out = dims[-1] if dims else d_in
        blocks: list[nn.Module] = []
        for d_prev, d in itertools.pairwise((d_in, *dims)):
            blocks += [nn.Linear(d_prev, d), ACTIVATIONS[activation]()]
            if dropout > 0.0:
                blocks.append(nn.Dropout(dropout))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.blocks(x)
        return out
