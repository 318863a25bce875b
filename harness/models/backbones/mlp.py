"""``mlp``: Linear -> [normalisation] -> activation -> dropout blocks."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from harness.models.backbones.base import (
    ACTIVATIONS,
    Activation,
    Backbone,
    BackboneConfig,
    Norm,
    check_layer_options,
    make_norm,
)

__all__ = ["MLP", "MLPConfig"]


class MLP(Backbone):
    """A stack of ``Linear(d_prev, d) -> norm -> activation -> Dropout(dropout)`` blocks.

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
        norm: str = "none",
    ) -> None:
        """
        Args:
            d_in: input width.
            dims: widths of the hidden layers, in order.
            dropout: dropout probability after each activation, in ``[0, 1)``.
            activation: a key of ``ACTIVATIONS``.
            norm: ``"none"``, ``"batch"`` or ``"layer"`` normalisation after each Linear.
        """
        super().__init__()
        dims = tuple(int(d) for d in dims)
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        if any(d < 1 for d in dims):
            raise ValueError(f"every hidden width must be positive, got {dims=}")
        check_layer_options(dropout, activation, norm)
        self.d_in = d_in
        self.d_out = dims[-1] if dims else d_in
        blocks: list[nn.Module] = []
        for d_prev, d in itertools.pairwise((d_in, *dims)):
            blocks.append(nn.Linear(d_prev, d))
            if norm != "none":
                blocks.append(make_norm(norm, d))
            blocks.append(ACTIVATIONS[activation]())
            if dropout > 0.0:
                blocks.append(nn.Dropout(dropout))
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.blocks(x)
        return out


@dataclass(frozen=True)
class MLPConfig(BackboneConfig):
    """``mlp``: a multi-layer perceptron.

    Attributes:
        dims: hidden widths, in order (depth = their number); lists from TOML become tuples.
        dropout: after each activation.
        activation: ``relu``, ``gelu`` or ``silu``.
        norm: ``none``, ``batch`` or ``layer`` normalisation after each Linear.
    """

    dims: tuple[int, ...] = (512, 256)
    dropout: float = 0.0
    activation: Activation = "relu"
    norm: Norm = "none"

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", check_dims("dims", self.dims))
        check_layer_options(self.dropout, self.activation, self.norm)

    def build(self, d_in: int) -> MLP:
        return MLP(
            d_in, self.dims, dropout=self.dropout, activation=self.activation, norm=self.norm
        )


def check_dims(name: str, dims: object) -> tuple[int, ...]:
    """``dims`` as a tuple of positive ints, or ValueError naming ``name``."""
    if not isinstance(dims, list | tuple) or not all(
        isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in dims
    ):
        raise ValueError(f"{name} must be a list of positive integers, got {name}={dims!r}")
    return tuple(int(d) for d in dims)
