"""``resnet``: residual blocks ``x + F(x)`` (the tabular ResNet of Gorishniy et al., 2021)."""

from __future__ import annotations

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

__all__ = ["ResNet", "ResNetConfig"]


class _Block(nn.Module):
    """``x + Dropout(Linear(Dropout(act(Linear(norm(x))))))``: a pre-norm residual block."""

    def __init__(
        self, width: int, hidden: int, *, dropout: float, residual_dropout: float, activation: str,
        norm: str
    ) -> None:  # fmt: skip
        super().__init__()
        self.f = nn.Sequential(
            make_norm(norm, width),
            nn.Linear(width, hidden),
            ACTIVATIONS[activation](),
            nn.Dropout(dropout),
            nn.Linear(hidden, width),
            nn.Dropout(residual_dropout),
        )

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = x + self.f(x)
        return out


class ResNet(Backbone):
    """``Linear(d_in, width)``, then ``blocks`` residual blocks, then norm and activation.

    **Shape**: ``(B, d_in) -> (B, width)``.

    **Examples**

    >>> m = ResNet(8, blocks=2, width=16)
    >>> m(torch.randn(3, 8)).shape
    torch.Size([3, 16])
    """

    def __init__(
        self,
        d_in: int,
        blocks: int = 2,
        *,
        width: int = 256,
        hidden_factor: float = 2.0,
        dropout: float = 0.1,
        residual_dropout: float = 0.0,
        activation: str = "relu",
        norm: str = "batch",
    ) -> None:
        super().__init__()
        if d_in < 1:
            raise ValueError(f"d_in must be positive, got {d_in=}")
        if blocks < 1 or width < 1:
            raise ValueError(f"blocks and width must be positive, got {blocks=} {width=}")
        if hidden_factor <= 0:
            raise ValueError(f"hidden_factor must be positive, got {hidden_factor=}")
        check_layer_options(dropout, activation, norm)
        check_layer_options(residual_dropout, activation, norm)
        self.d_in, self.d_out = d_in, width
        hidden = max(1, round(width * hidden_factor))
        self.first = nn.Linear(d_in, width)
        self.blocks = nn.Sequential(
            *(
                _Block(
                    width,
                    hidden,
                    dropout=dropout,
                    residual_dropout=residual_dropout,
                    activation=activation,
                    norm=norm,
                )
                for _ in range(blocks)
            )
        )
        self.last = nn.Sequential(make_norm(norm, width), ACTIVATIONS[activation]())

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.last(self.blocks(self.first(x)))
        return out


@dataclass(frozen=True)
class ResNetConfig(BackboneConfig):
    """``resnet``: residual MLP blocks with normalisation.

    Attributes:
        blocks: residual blocks (depth).
        width: the blocks' input and output width.
        hidden_factor: each block's hidden layer is ``hidden_factor * width`` wide.
        dropout: inside each block, after the activation.
        residual_dropout: on each block's output before it is added to ``x``.
        activation: ``relu``, ``gelu`` or ``silu``.
        norm: ``batch``, ``layer`` or ``none``, at the start of each block.
    """

    blocks: int = 2
    width: int = 256
    hidden_factor: float = 2.0
    dropout: float = 0.1
    residual_dropout: float = 0.0
    activation: Activation = "relu"
    norm: Norm = "batch"

    def __post_init__(self) -> None:
        if self.blocks < 1 or self.width < 1:
            raise ValueError(f"blocks and width must be >= 1, got {self.blocks=} {self.width=}")
        if self.hidden_factor <= 0:
            raise ValueError(f"hidden_factor must be positive, got {self.hidden_factor=}")
        check_layer_options(self.dropout, self.activation, self.norm)
        if not 0.0 <= self.residual_dropout < 1.0:
            raise ValueError(f"residual_dropout must lie in [0, 1), got {self.residual_dropout=}")

    def build(self, d_in: int) -> ResNet:
        return ResNet(
            d_in,
            self.blocks,
            width=self.width,
            hidden_factor=self.hidden_factor,
            dropout=self.dropout,
            residual_dropout=self.residual_dropout,
            activation=self.activation,
            norm=self.norm,
        )
