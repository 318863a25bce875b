"""The tokenizer: raw numeric values and categorical ids to field tokens ``(B, F, d)``.

Numeric features are encoded (a registered numeric encoding, fitted on train), then become
tokens one of three ways (``numeric_tokens``):

- ``per_feature``: a linear map per feature from its encoding channels to ``d`` (the numeric
  tokenizer of FT-Transformer): one token per numeric feature;
- ``mlp``: all encodings through one MLP to a single ``d`` token (DLRM's bottom MLP);
- ``flat``: no token; the encodings join the flat vector as they are (today's DCN-v2 input).

``auto`` (the default) picks ``per_feature`` when the interaction takes tokens and ``flat`` when
it takes the flat vector.

Categorical ids are embedded by a registered embedding (``embedding``, from ``EMBEDDINGS``; by
default ``fused``, one sparse table). With the ``fixed`` size every feature gives a token of size
``d``; with a growing size (``log2``, ``root4``) a token interaction gets each feature projected
to ``d``, and a flat interaction gets the vectors unprojected in the dense part of the flat
vector (`Embedded.dense`, after the numeric values). Numeric tokens come first, then one token
per categorical feature.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from harness.models.backbones.mlp import MLP, check_dims
from harness.models.embeddings import (
    CategoricalEmbedding,
    EmbeddingConfig,
    Footprint,
    FusedConfig,
    footprint_of,
)
from harness.models.inputs import FeatureInputs
from harness.models.numeric import Log1pConfig, NumericEncoding, NumericEncodingConfig
from harness.models.spec import Embedded, TensorKind, TensorSpec

__all__ = ["NumericTokens", "Tokenizer", "TokenizerConfig"]

NumericTokens = Literal["auto", "per_feature", "mlp", "flat"]
_MODES = ("auto", "per_feature", "mlp", "flat")


class Tokenizer(nn.Module):
    """``(x_num (B, n_num), x_cat (B, n_cat))`` -> `Embedded` (field tokens and dense values).

    **Shape**: tokens ``(B, F, d)`` with ``F`` = numeric tokens + categorical tokens (``n_cat``
    unless the embedding's output is flat); dense ``(B, D0)``: the numeric encodings in ``flat``
    mode, then a flat embedding's output.

    **Examples**

    >>> numeric = Log1pConfig().build(FeatureInputs.from_arrays(np.zeros((1, 2))))
    >>> t = Tokenizer(numeric, FusedEmbedding([5, 7], 4), dim=4)
    >>> t(torch.ones(3, 2), torch.zeros(3, 2, dtype=torch.long)).tokens.shape
    torch.Size([3, 4, 4])
    """

    def __init__(
        self,
        numeric: NumericEncoding,
        embedding: CategoricalEmbedding | None,
        *,
        dim: int,
        numeric_tokens: str = "per_feature",
        bottom_dims: Sequence[int] = (256,),
    ) -> None:
        """
        Args:
            numeric: the built numeric encoding.
            embedding: the built categorical embedding (None without categorical features).
            dim: the token size ``d``.
            numeric_tokens: ``per_feature``, ``mlp`` or ``flat`` (module docstring).
            bottom_dims: hidden widths of the ``mlp`` mode's bottom MLP.
        """
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
        if embedding is not None and embedding.output == "tokens" and embedding.width != dim:
            raise ValueError(f"the embedding gives tokens of {embedding.width}, expected {dim=}")
        self.embedding = embedding
        # Where the categorical vectors go: field tokens, or the dense part of the flat vector.
        self._cat_tokens = embedding is not None and embedding.output == "tokens"
        cat_fields = embedding.n_features if embedding is not None and self._cat_tokens else 0
        cat_dense = embedding.width if embedding is not None and not self._cat_tokens else 0
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
        fields = numeric_fields + cat_fields
        self.tokens: TensorSpec | None = (
            TensorSpec.tokens(fields, dim, numeric_fields=numeric_fields) if fields else None
        )
        self.dense_width = (self.numeric_width if numeric_tokens == "flat" else 0) + cat_dense
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
        dense = encoded if self.mode == "flat" else None
        if self.embedding is not None:
            cat = self.embedding(x_cat)
            if self._cat_tokens:
                parts.append(cat)
            else:
                dense = cat if dense is None else torch.cat([dense, cat], dim=1)
        tokens = (torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]) if parts else None
        return Embedded(tokens=tokens, dense=dense, numeric=encoded)

    @property
    def clip_to(self) -> tuple[int, ...] | None:
        """Per feature, the ids kept by frequency clipping (ids at or above become 1), or None
        when nothing is clipped: what the ``wide`` part needs to see the same ids."""
        return None if self.embedding is None else self.embedding.clip_to

    def embedding_footprint(self) -> Footprint:
        """Parameters and bytes of the categorical embeddings (tables and projections)."""
        return footprint_of(self.embedding)


@dataclass(frozen=True)
class TokenizerConfig:
    """How features become tokens.

    Attributes:
        embedding_dim: the token size ``d`` shared by every field (and the ``fixed``
            categorical embedding size).
        embedding: the categorical embedding (``kind`` from ``EMBEDDINGS``).
        numeric: the numeric encoding (``kind`` from ``NUMERIC_ENCODINGS``), fitted on train.
        numeric_tokens: ``auto``, ``per_feature``, ``mlp`` or ``flat`` (module docstring).
        bottom_dims: hidden widths of the ``mlp`` mode's bottom MLP (its last layer is ``d``).
        init_std: standard deviation of the embedding tables' normal initialisation.
    """

    embedding_dim: int = 16
    embedding: EmbeddingConfig = field(default_factory=FusedConfig)
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
        if not isinstance(self.embedding, EmbeddingConfig):
            raise ValueError(f"embedding must be an EmbeddingConfig, got {self.embedding=}")
        self.embedding.check_dim(self.embedding_dim)

    def build(self, inputs: FeatureInputs, *, interaction_takes: TensorKind) -> Tokenizer:
        """The tokenizer for a dataset; ``auto`` resolved for an interaction taking that kind."""
        mode = self.numeric_tokens
        if mode == "auto":
            mode = "per_feature" if interaction_takes == "tokens" else "flat"
        embedding: CategoricalEmbedding | None = None
        if inputs.n_cat:
            try:
                embedding = self.embedding.build(
                    inputs,
                    dim=self.embedding_dim,
                    takes=interaction_takes,
                    init_std=self.init_std,
                )
            except ValueError as e:
                raise ValueError(f"embedding {self.embedding.kind}: {e}") from None
        return Tokenizer(
            self.numeric.build(inputs),
            embedding,
            dim=self.embedding_dim,
            numeric_tokens=mode,
            bottom_dims=self.bottom_dims,
        )
