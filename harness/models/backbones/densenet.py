"""``densenet``: dense blocks ``concat(x, F(x))`` (each block sees every earlier output)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
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

__all__ = ["DenseNet", "DenseNetConfig"]


class DenseNet(Backbone):
    """``blocks`` dense blocks: block ``k`` maps ``[x, h_1 .. h_{k-1}]`` to ``h_k`` of ``growth``.

    Each block is ``Linear -> norm -> activation -> dropout``; the output concatenates the input
    and every block's output, so the head sees low- and high-level features alike.

    **Shape**: ``(B, d_in) -> (B, d_in + blocks * growth)``.

    **Examples**

    >>> m = DenseNet(8, blocks=2, growth=4)
    >>> m(torch.randn(3, 8)).shape
    torch.Size([3, 16])
    """

    def __init__(
        self,
        d_in: int,
        blocks: int = 2,
        *,
        growth: int = 128,
        dropout: float = 0.0,
        activation: str = "relu",
        norm: str = "none",
    ) -> None:
        super().__init__()
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        if blocks < 1 or growth < 1:
            raise ValueError(f"blocks and growth must be positive, got {blocks=} {growth=}")
        check_layer_options(dropout, activation, norm)
        self.d_in = d_in
        self.d_out = d_in + blocks * growth
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Linear(d_in + k * growth, growth),
                make_norm(norm, growth),
                ACTIVATIONS[activation](),
                nn.Dropout(dropout),
            )
            for k in range(blocks)
        )

    def forward(self, x: Tensor) -> Tensor:
        for block in self.blocks:
            x = torch.cat([x, block(x)], dim=1)
        return x


@dataclass(frozen=True)
class DenseNetConfig(BackboneConfig):
    """``densenet``: dense (concatenating) MLP blocks.

    Attributes:
        blocks: dense blocks (depth).
        growth: features each block adds (width).
        dropout: after each block's activation.
        activation: ``relu``, ``gelu`` or ``silu``.
        norm: ``none``, ``batch`` or ``layer`` after each block's Linear.
    """

    blocks: int = 2
    growth: int = 128
    dropout: float = 0.0
    activation: Activation = "relu"
    norm: Norm = "none"

    def __post_init__(self) -> None:
        if self.blocks < 1 or self.growth < 1:
            raise ValueError(f"blocks and growth must be >= 1, got {self.blocks=} {self.growth=}")
        check_layer_options(self.dropout, self.activation, self.norm)

    def build(self, d_in: int) -> DenseNet:
        return DenseNet(
            d_in,
            self.blocks,
            growth=self.growth,
            dropout=self.dropout,
            activation=self.activation,
            norm=self.norm,
        )
