"""The tokenizer: raw numeric values and categorical ids to field tokens ``(B, F, d)``.

Numeric features are encoded (a registered numeric encoding, fitted on train), then become
tokens one of three ways (``numeric_tokens``):

- ``per_feature``: a linear map per feature from its encoding channels to ``d`` (the numeric
  tokenizer of FT-Transformer): one token per numeric feature;
- ``mlp``: all encodings through one MLP to a single ``d`` token (DLRM's bottom MLP);
- ``flat``: no token; the encodings join the flat vector as they are (today's DCN-v2 input).

``auto`` (the default) picks ``per_feature`` when the interaction takes tokens and ``flat`` when
it takes the flat vector. Categorical ids are embedded by one fused sparse table (`FusedEmbedding`).
Numeric tokens come first, then one token per categorical feature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from harness.models.backbones.mlp import MLP, check_dims
from harness.models.embeddings import Footprint, FusedEmbedding, footprint_of
from harness.models.inputs import FeatureInputs
from harness.models.numeric import Log1pConfig, NumericEncoding, NumericEncodingConfig
from harness.models.spec import Embedded, TensorKind, TensorSpec

__all__ = ["NumericTokens", "Tokenizer", "TokenizerConfig"]

NumericTokens = Literal["auto", "per_feature", "mlp", "flat"]
_MODES = ("auto", "per_feature", "mlp", "flat")


class Tokenizer(nn.Module):
    """``(x_num (B, n_num), x_cat (B, n_cat))`` -> `Embedded` (field tokens and dense values).

    **Shape**: tokens ``(B, F, d)`` with ``F`` = numeric tokens + ``n_cat``; dense ``(B, D0)``
    (``flat`` mode only).

    **Examples**

    >>> numeric = Log1pConfig().build(FeatureInputs.from_arrays(np.zeros((1, 2))))
    >>> t = Tokenizer(numeric, [5, 7], dim=4)
    >>> t(torch.ones(3, 2), torch.zeros(3, 2, dtype=torch.long)).tokens.shape
    torch.Size([3, 4, 4])
    """

    def __init__(
        self,
        numeric: NumericEncoding,
        cardinalities: Sequence[int],
        *,
        dim: int,
        numeric_tokens: str = "per_feature",
        bottom_dims: Sequence[int] = (256,),
        init_std: float = 0.01,
    ) -> None:
        super().__init__()
        if dim < 1:
            raise ValueError(f"embedding_dim must be positive, got embedding_dim={dim}")
        if numeric_tokens not in ("per_feature", "mlp", "flat"):
            raise ValueError(
                f"numeric_tokens must be per_feature, mlp or flat, got {numeric_tokens=}"
            )
        self.numeric = numeric
        self.mode = numeric_tokens
        self.dim = dim
        n_num, channels = numeric.n_features, numeric.d_out
        self.numeric_width = n_num * channels
        self.embedding = (
            FusedEmbedding(cardinalities, dim, init_std=init_std) if cardinalities else None
        )
        self.num_weight: nn.Parameter | None = None
        self.num_bias: nn.Parameter | None = None
        self.bottom: MLP | None = None
        numeric_fields = 0
        if n_num and numeric_tokens == "per_feature":
            bound = 1.0 / math.sqrt(dim)
            self.num_weight = nn.Parameter(
                torch.empty(n_num, channels, dim).uniform_(-bound, bound)
            )
            self.num_bias = nn.Parameter(torch.empty(n_num, dim).uniform_(-bound, bound))
            numeric_fields = n_num
        elif n_num and numeric_tokens == "mlp":
            self.bottom = MLP(self.numeric_width, (*bottom_dims, dim))
            numeric_fields = 1
        fields = numeric_fields + len(cardinalities)
        self.tokens: TensorSpec | None = (
            TensorSpec.tokens(fields, dim, numeric_fields=numeric_fields) if fields else None
        )
        self.dense_width = self.numeric_width if numeric_tokens == "flat" else 0
        self.flat_width = self.dense_width + (self.tokens.flat_width if self.tokens else 0)
        if self.flat_width < 1:
            raise ValueError("the ranker has no input: no numeric and no categorical features")

    def forward(self, x_num: Tensor, x_cat: Tensor) -> Embedded:
        encoded = self.numeric(x_num).flatten(1) if self.numeric_width else None
        parts: list[Tensor] = []
        if encoded is not None and self.num_weight is not None and self.num_bias is not None:
            channels = encoded.view(x_num.shape[0], self.numeric.n_features, self.numeric.d_out)
            parts.append(torch.einsum("bnc,ncd->bnd", channels, self.num_weight) + self.num_bias)
        elif encoded is not None and self.bottom is not None:
            parts.append(self.bottom(encoded).unsqueeze(1))
        if self.embedding is not None:
            parts.append(self.embedding(x_cat))
        tokens = (torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]) if parts else None
        dense = encoded if self.mode == "flat" else None
        return Embedded(tokens=tokens, dense=dense, numeric=encoded)

    def embedding_footprint(self) -> Footprint:
        """Parameters and bytes of the categorical embeddings (tables and projections)."""
        return footprint_of(self.embedding)


@dataclass(frozen=True)
class TokenizerConfig:
    """How features become tokens.

    Attributes:
        embedding_dim: the token size ``d`` shared by every field.
        numeric: the numeric encoding (``kind`` from ``NUMERIC_ENCODINGS``), fitted on train.
        numeric_tokens: ``auto``, ``per_feature``, ``mlp`` or ``flat`` (module docstring).
        bottom_dims: hidden widths of the ``mlp`` mode's bottom MLP (its last layer is ``d``).
        init_std: standard deviation of the embedding table's normal initialisation.
    """

    embedding_dim: int = 16
    numeric: NumericEncodingConfig = field(default_factory=Log1pConfig)
    numeric_tokens: NumericTokens = "auto"
    bottom_dims: tuple[int, ...] = (256,)
    init_std: float = 0.01

    def __post_init__(self) -> None:
        if not (isinstance(self.embedding_dim, int) and self.embedding_dim >= 1):
            raise ValueError(f"embedding_dim must be an integer >= 1, got {self.embedding_dim=}")
        if self.numeric_tokens not in _MODES:
            raise ValueError(
                f"numeric_tokens must be one of {', '.join(_MODES)}, got {self.numeric_tokens=}"
            )
        object.__setattr__(self, "bottom_dims", check_dims("bottom_dims", self.bottom_dims))
        if not self.init_std > 0.0:
            raise ValueError(f"init_std must be positive, got {self.init_std=}")

    def build(self, inputs: FeatureInputs, *, interaction_takes: TensorKind) -> Tokenizer:
        """The tokenizer for a dataset; ``auto`` resolved for an interaction taking that kind."""
        mode = self.numeric_tokens
        if mode == "auto":
            mode = "per_feature" if interaction_takes == "tokens" else "flat"
        return Tokenizer(
            self.numeric.build(inputs),
            inputs.cardinalities,
            dim=self.embedding_dim,
            numeric_tokens=mode,
            bottom_dims=self.bottom_dims,
            init_std=self.init_std,
        )
