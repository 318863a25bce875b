"""``autoint``: multi-head self-attention over the field tokens (Song et al., 2019, AutoInt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor, nn

from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.spec import TensorKind, TensorSpec

__all__ = ["AutoInt", "AutoIntConfig"]


class _AttentionLayer(nn.Module):
    """One interacting layer: ``ReLU(MultiHead(x) + W_res x)``, optionally layer-normalised."""

    def __init__(self, d_in: int, heads: int, head_dim: int, *, residual: bool, norm: bool) -> None:
        super().__init__()
        self.heads = heads
        self.head_dim = head_dim
        d_out = heads * head_dim
        self.qkv = nn.Linear(d_in, 3 * d_out, bias=False)
        self.residual = nn.Linear(d_in, d_out, bias=False) if residual else None
        self.norm = nn.LayerNorm(d_out) if norm else None

    def forward(self, x: Tensor) -> Tensor:
        b, f, _ = x.shape
        q, k, v = (
            t.view(b, f, self.heads, self.head_dim).transpose(1, 2)
            for t in self.qkv(x).chunk(3, dim=-1)
        )
        attended = F.scaled_dot_product_attention(q, k, v)  # (B, H, F, head_dim)
        out = attended.transpose(1, 2).reshape(b, f, self.heads * self.head_dim)
        if self.residual is not None:
            out = out + self.residual(x)
        out = F.relu(out)
        return self.norm(out) if self.norm is not None else out


class AutoInt(Interaction):
    """Stacked interacting layers: each token attends to every token, in ``heads`` subspaces.

    Layer ``l`` maps ``(B, F, d_l)`` to ``(B, F, heads * head_dim)`` with scaled dot-product
    attention (Vaswani et al.) and AutoInt's projected residual ``W_res x``, then ReLU. AutoInt+
    is this next to an MLP (the ranker's ``parallel`` topology).

    NOTE[PAPER]: attention logits are scaled by ``1/sqrt(head_dim)`` (the paper uses the raw dot
    product); it keeps deeper stacks stable at no cost.

    **Shape**: ``(B, F, d) -> (B, F, heads * head_dim)``.

    **Examples**

    >>> m = AutoInt(TensorSpec.tokens(5, 8), layers=2, heads=2, head_dim=4)
    >>> m(torch.randn(3, 5, 8)).shape
    torch.Size([3, 5, 8])
    """

    def __init__(
        self,
        inputs: TensorSpec,
        *,
        layers: int = 3,
        heads: int = 2,
        head_dim: int = 32,
        residual: bool = True,
        layer_norm: bool = False,
    ) -> None:
        super().__init__()
        if inputs.kind != "tokens" or inputs.fields < 1:
            raise ValueError(f"autoint takes field tokens, got {inputs}")
        for name, value in (("layers", layers), ("heads", heads), ("head_dim", head_dim)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {name}={value}")
        self.input = inputs
        d_out = heads * head_dim
        self.output = TensorSpec.tokens(inputs.fields, d_out, numeric_fields=inputs.numeric_fields)
        widths = [inputs.width] + [d_out] * layers
        self.layers = nn.ModuleList(
            _AttentionLayer(w, heads, head_dim, residual=residual, norm=layer_norm)
            for w in widths[:-1]
        )

    def forward(self, x: Tensor) -> Tensor:
        self.input.check(x, "autoint")
        for layer in self.layers:
            x = layer(x)
        return x


@dataclass(frozen=True)
class AutoIntConfig(InteractionConfig):
    """``autoint``: multi-head self-attention over field tokens.

    Attributes:
        layers: interacting layers.
        heads: attention heads per layer.
        head_dim: size of each head; a layer's output tokens are ``heads * head_dim`` wide.
        residual: AutoInt's projected residual connection.
        layer_norm: normalise each layer's output tokens.
    """

    takes: ClassVar[TensorKind] = "tokens"
    layers: int = 3
    heads: int = 2
    head_dim: int = 32
    residual: bool = True
    layer_norm: bool = False

    def __post_init__(self) -> None:
        for name in ("layers", "heads", "head_dim"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {name}={value}")

    def build(self, inputs: TensorSpec) -> AutoInt:
        return AutoInt(
            inputs,
            layers=self.layers,
            heads=self.heads,
            head_dim=self.head_dim,
            residual=self.residual,
            layer_norm=self.layer_norm,
        )
