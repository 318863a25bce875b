"""``hiformer``: heterogeneous self-attention over field tokens (Gui et al., 2024, Hiformer).

Features of a recommender are heterogeneous (an advertiser id and a hour of day live in
unrelated spaces), so the attention's projections are per feature: feature ``i`` has its own
query, key and value maps. Hiformer then lets each key and value depend on *all* features
(a composite projection of the concatenated tokens) and makes that affordable with a low rank.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from harness.models.interactions.base import Interaction, InteractionConfig
from harness.models.spec import TensorKind, TensorSpec

__all__ = ["Hiformer", "HiformerConfig"]


def _per_feature(fields: int, d_in: int, d_out: int) -> nn.Parameter:
    bound = 1.0 / math.sqrt(d_in)
    return nn.Parameter(torch.empty(fields, d_in, d_out).uniform_(-bound, bound))


class _HeterogeneousLayer(nn.Module):
    """Heterogeneous attention, add & norm, feed-forward, add & norm (a post-norm block)."""

    def __init__(
        self, fields: int, d: int, heads: int, head_dim: int, rank: int, ffn_factor: int
    ) -> None:
        super().__init__()
        self.fields, self.heads, self.head_dim = fields, heads, head_dim
        width = heads * head_dim
        self.query = _per_feature(fields, d, width)
        self.rank = rank
        if rank == 0:  # heterogeneous attention: key and value per feature
            self.key = _per_feature(fields, d, width)
            self.value = _per_feature(fields, d, width)
        else:  # Hiformer: keys and values from all features, through a rank-r bottleneck
            self.key_low = nn.Sequential(
                nn.Linear(fields * d, rank, bias=False), nn.Linear(rank, fields * width, bias=False)
            )
            self.value_low = nn.Sequential(
                nn.Linear(fields * d, rank, bias=False), nn.Linear(rank, fields * width, bias=False)
            )
        self.out = _per_feature(fields, width, d)
        self.norm1 = nn.LayerNorm(d)
        self.ffn = nn.Sequential(
            nn.Linear(d, ffn_factor * d), nn.GELU(), nn.Linear(ffn_factor * d, d)
        )
        self.norm2 = nn.LayerNorm(d)

    def _heads(self, t: Tensor) -> Tensor:
        b = t.shape[0]
        return t.view(b, self.fields, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x: Tensor) -> Tensor:
        b = x.shape[0]
        q = torch.einsum("bfd,fdk->bfk", x, self.query)
        if self.rank == 0:
            k = torch.einsum("bfd,fdk->bfk", x, self.key)
            v = torch.einsum("bfd,fdk->bfk", x, self.value)
        else:
            flat = x.flatten(1)
            k = self.key_low(flat).view(b, self.fields, -1)
            v = self.value_low(flat).view(b, self.fields, -1)
        attended = F.scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v))
        attended = attended.transpose(1, 2).reshape(b, self.fields, -1)
        x = self.norm1(x + torch.einsum("bfk,fkd->bfd", attended, self.out))
        out: Tensor = self.norm2(x + self.ffn(x))
        return out


class Hiformer(Interaction):
    """Stacked heterogeneous-attention blocks over the field tokens.

    ``rank=0``: heterogeneous attention, ``Q_i = x_i W^Q_i``, ``K_j = x_j W^K_j``,
    ``V_j = x_j W^V_j`` with separate weights per feature ``i``/``j``, and a per-feature output
    projection. ``rank=r > 0``: Hiformer's composite keys and values, ``[K_1..K_F] =
    [x_1..x_F] L R`` (rank ``r``), so each key sees every feature; queries stay per feature.

    NOTE[PAPER]: the paper's task token and last-layer pruning (only the task token's output is
    computed in the last layer) are left out: the ranker reads every output token.

    **Shape**: ``(B, F, d) -> (B, F, d)``.

    **Examples**

    >>> m = Hiformer(TensorSpec.tokens(4, 8), layers=1, heads=2, head_dim=4, rank=16)
    >>> m(torch.randn(3, 4, 8)).shape
    torch.Size([3, 4, 8])
    """

    def __init__(
        self,
        inputs: TensorSpec,
        *,
        layers: int = 1,
        heads: int = 2,
        head_dim: int = 16,
        rank: int = 0,
        ffn_factor: int = 2,
    ) -> None:
        super().__init__()
        if inputs.kind != "tokens" or inputs.fields < 1:
            raise ValueError(f"hiformer takes field tokens, got {inputs}")
        for name, value in (
            ("layers", layers),
            ("heads", heads),
            ("head_dim", head_dim),
            ("ffn_factor", ffn_factor),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {name}={value}")
        composite = inputs.fields * heads * head_dim
        if not 0 <= rank <= min(inputs.flat_width, composite):
            raise ValueError(
                f"rank must be 0 (per-feature keys) or in [1, {min(inputs.flat_width, composite)}]"
                f" (the narrower side of the composite projection), got {rank=}"
            )
        self.input = self.output = inputs
        self.rank = rank
        self.layers = nn.ModuleList(
            _HeterogeneousLayer(inputs.fields, inputs.width, heads, head_dim, rank, ffn_factor)
            for _ in range(layers)
        )

    def forward(self, x: Tensor) -> Tensor:
        self.input.check(x, "hiformer")
        for layer in self.layers:
            x = layer(x)
        return x


@dataclass(frozen=True)
class HiformerConfig(InteractionConfig):
    """``hiformer``: heterogeneous attention (``rank = 0``) or Hiformer's low-rank composite.

    Attributes:
        layers: attention blocks.
        heads: attention heads.
        head_dim: size of each head.
        rank: 0 for per-feature keys and values; r > 0 for Hiformer's composite keys and values
            through a rank-r projection of all tokens.
        ffn_factor: the feed-forward layer is ``ffn_factor * d`` wide.
    """

    takes: ClassVar[TensorKind] = "tokens"
    layers: int = 1
    heads: int = 2
    head_dim: int = 16
    rank: int = 0
    ffn_factor: int = 2

    def __post_init__(self) -> None:
        for name in ("layers", "heads", "head_dim", "ffn_factor"):
            value = getattr(self, name)
            if value < 1:
                raise ValueError(f"{name} must be >= 1, got {name}={value}")
        if self.rank < 0:
            raise ValueError(f"rank must be 0 (per-feature) or positive, got {self.rank=}")

    def build(self, inputs: TensorSpec) -> Hiformer:
        return Hiformer(
            inputs,
            layers=self.layers,
            heads=self.heads,
            head_dim=self.head_dim,
            rank=self.rank,
            ffn_factor=self.ffn_factor,
        )
