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

Dense vector features (``x_vec``: a text column's sentence embedding, a vector column) become,
as ``vectors`` says, one token each after the categorical tokens (``tokens``: numeric tokens
stay first, so DLRM's dense part keeps its meaning), or columns of the dense part after the
categorical ones (``flat``); ``auto`` picks ``tokens`` when the interaction takes tokens and
``flat`` otherwise. Either way each vector is layer-normalised first (`VectorInputs`).
"""

from __future__ import annotations

import itertools
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

__all__ = ["NumericTokens", "Tokenizer", "TokenizerConfig", "VectorInputs", "VectorMode"]

NumericTokens = Literal["auto", "per_feature", "mlp", "flat"]
_MODES = ("auto", "per_feature", "mlp", "flat")
VectorMode = Literal["auto", "tokens", "flat"]
_VECTOR_MODES = ("auto", "tokens", "flat")


class VectorInputs(nn.Module):
    """Dense vector features ``x_vec`` -> one token per feature, or their normalised columns.

    Each feature's columns (``width`` of them) go through their own ``LayerNorm(width)``, then,
    in ``tokens`` mode, their own ``Linear(width, d)``; in ``flat`` mode they stay as they are.

    Why the LayerNorm: vectors come at any scale. A unit-norm sentence embedding of 384
    dimensions has components near ``1/sqrt(384) ~ 0.05`` (drowned next to O(1) numeric
    encodings in a flat vector), a raw vector column of counts may have components in the
    hundreds (exploding). Normalised, every component has zero mean and unit variance whatever
    the source: what an MLP or a cross network expects of its flat input. The norm's gain and
    bias are learned, so the model can re-weight components. What it gives up: a vector's own
    norm and mean (constant for normalised sentence embeddings, so nothing is lost for them). A
    width-1 feature is not normalised (a LayerNorm of one value is constant). NaN and infinite
    values become 0 first: a missing vector (all zeros) is mapped to the norm's bias, a learned
    "missing" vector.

    Why the map's initialisation: weights ``U(±1/sqrt(width * d))`` and bias ``U(±1/sqrt(d))``
    give token components of variance ``~1/(3d)`` on normalised input, whatever the width: the
    scale of a numeric feature's token of a unit value (`Tokenizer`'s ``per_feature`` weights are
    ``U(±1/sqrt(d))``), so a vector token neither dominates the pairwise products of ``fm`` or
    ``dot`` at the start (torch's default ``U(±1/sqrt(width))`` would give components of
    variance 1/3, and dot products between tokens ``d`` times larger) nor vanishes next to them.

    **Shape**: ``(B, W)`` with ``W`` = the widths added up -> ``(B, V, d)`` (``tokens``, ``V``
    features) or ``(B, W)`` (``flat``).

    **Examples**

    >>> v = VectorInputs(("title", "image"), (6, 4), dim=8, mode="tokens")
    >>> v(torch.randn(3, 10)).shape
    torch.Size([3, 2, 8])
    """

    def __init__(
        self, names: Sequence[str], widths: Sequence[int], *, dim: int, mode: str = "tokens"
    ) -> None:
        """
        Args:
            names: the vector features, for messages.
            widths: each feature's width, in ``x_vec`` order.
            dim: the token size ``d`` (``tokens`` mode).
            mode: ``tokens`` or ``flat``.
        """
        super().__init__()
        if mode not in ("tokens", "flat"):
            raise ValueError(f"vectors must be tokens or flat, got {mode=}")
        if not widths or len(names) != len(widths) or any(w < 1 for w in widths):
            raise ValueError(f"one width >= 1 per vector feature, got {names=} {widths=}")
        if dim < 1:
            raise ValueError(f"the token size must be positive, got {dim=}")
        self.names = tuple(names)
        self.widths = tuple(int(w) for w in widths)
        self.mode = mode
        self.width = sum(self.widths)
        bounds = [0, *itertools.accumulate(self.widths)]
        self._slices = tuple(itertools.pairwise(bounds))
        # eps far below a unit-norm vector's component variance (1/width: 2.6e-3 at 384), so
        # that the scale of a normalised embedding is removed, not squashed (torch's 1e-5 would
        # shrink a 4096-d one by 2%).
        self.norms = nn.ModuleList(
            nn.LayerNorm(w, eps=1e-7) if w > 1 else nn.Identity() for w in widths
        )
        self.maps: nn.ModuleList | None = None
        if mode == "tokens":
            self.maps = nn.ModuleList(nn.Linear(w, dim) for w in self.widths)
            for w, linear in zip(self.widths, self.maps, strict=True):
                assert isinstance(linear, nn.Linear)
                nn.init.uniform_(linear.weight, -1.0 / math.sqrt(w * dim), 1.0 / math.sqrt(w * dim))
                nn.init.uniform_(linear.bias, -1.0 / math.sqrt(dim), 1.0 / math.sqrt(dim))
        self.fields = len(self.widths) if mode == "tokens" else 0
        self.dense_width = 0 if mode == "tokens" else self.width

    def forward(self, x_vec: Tensor) -> Tensor:
        if x_vec.ndim != 2 or x_vec.shape[1] != self.width:
            raise ValueError(
                f"x_vec: expected (B, {self.width}) for the vector features {self.described()}, "
                f"got {tuple(x_vec.shape)}"
            )
        x_vec = torch.nan_to_num(x_vec, nan=0.0, posinf=0.0, neginf=0.0)
        parts = [norm(x_vec[:, a:b]) for norm, (a, b) in zip(self.norms, self._slices, strict=True)]
        if self.maps is None:
            return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
        return torch.stack([m(x) for m, x in zip(self.maps, parts, strict=True)], dim=1)

    def described(self) -> str:
        """``title (384), image (512)``: the features and their widths, for messages."""
        return ", ".join(f"{n} ({w})" for n, w in zip(self.names, self.widths, strict=True))


class Tokenizer(nn.Module):
    """``(x_num (B, n_num), x_cat (B, n_cat)[, x_vec (B, W)])`` -> `Embedded` (field tokens and
    dense values).

    **Shape**: tokens ``(B, F, d)`` with ``F`` = numeric tokens + categorical tokens (``n_cat``
    unless the embedding's output is flat) + vector tokens (one per vector feature in
    ``tokens`` mode); dense ``(B, D0)``: the numeric encodings in ``flat`` mode, then a flat
    embedding's output, then the normalised vectors in ``flat`` mode.

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
        vectors: VectorInputs | None = None,
    ) -> None:
        """
        Args:
            numeric: the built numeric encoding.
            embedding: the built categorical embedding (None without categorical features).
            dim: the token size ``d``.
            numeric_tokens: ``per_feature``, ``mlp`` or ``flat`` (module docstring).
            bottom_dims: hidden widths of the ``mlp`` mode's bottom MLP.
            vectors: the built vector features' part (None without vector features).
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
        # Matryoshka serving: the categorical vectors keep only their first ``prefix`` dims
        # (`harness.models.matryoshka.truncated`); None keeps them whole.
        self.prefix: int | None = None
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
        if vectors is not None and vectors.maps is not None:
            widths = {m.out_features for m in vectors.maps if isinstance(m, nn.Linear)}
            if widths != {dim}:
                raise ValueError(f"the vector tokens have size {widths}, expected {dim=}")
        self.vectors = vectors
        self._vec_tokens = vectors is not None and vectors.maps is not None
        vec_fields = vectors.fields if vectors is not None else 0
        vec_dense = vectors.dense_width if vectors is not None else 0
        # Vector tokens come last: the first ``numeric_fields`` tokens stay the numeric ones.
        fields = numeric_fields + cat_fields + vec_fields
        self.tokens: TensorSpec | None = (
            TensorSpec.tokens(fields, dim, numeric_fields=numeric_fields) if fields else None
        )
        self.dense_width = (
            (self.numeric_width if numeric_tokens == "flat" else 0) + cat_dense + vec_dense
        )
        self.flat_width = self.dense_width + (self.tokens.flat_width if self.tokens else 0)
        if self.flat_width < 1:
            raise ValueError(
                "the ranker has no input: no numeric and no categorical features, no vectors"
            )

    def forward(self, x_num: Tensor, x_cat: Tensor, x_vec: Tensor | None = None) -> Embedded:
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
            if self.prefix is not None:
                cat = cat * self.embedding.prefix_mask(self.prefix).to(cat.dtype)
            if self._cat_tokens:
                parts.append(cat)
            else:
                dense = cat if dense is None else torch.cat([dense, cat], dim=1)
        if self.vectors is not None:
            if x_vec is None:
                raise ValueError(
                    f"this model was built for the vector features {self.vectors.described()}: "
                    f"pass their values as x_vec (B, {self.vectors.width}); got x_vec=None"
                )
            vec = self.vectors(x_vec)
            if self._vec_tokens:
                parts.append(vec)
            else:
                dense = vec if dense is None else torch.cat([dense, vec], dim=1)
        elif x_vec is not None and x_vec.shape[-1]:
            raise ValueError(
                f"this model was built without vector features, got x_vec {tuple(x_vec.shape)}"
            )
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
        vectors: dense vector features as ``tokens`` (one per feature, after the categorical
            ones), ``flat`` (columns of the dense part) or ``auto`` (tokens when the
            interaction takes tokens, flat otherwise); read only when the data has some.
    """

    embedding_dim: int = 16
    embedding: EmbeddingConfig = field(default_factory=FusedConfig)
    numeric: NumericEncodingConfig = field(default_factory=Log1pConfig)
    numeric_tokens: NumericTokens = "auto"
    bottom_dims: tuple[int, ...] = (256,)
    init_std: float = 0.01
    vectors: VectorMode = "auto"

    def __post_init__(self) -> None:
        if not (isinstance(self.embedding_dim, int) and self.embedding_dim >= 1):
            raise ValueError(f"embedding_dim must be an integer >= 1, got {self.embedding_dim=}")
        if self.numeric_tokens not in _MODES:
            raise ValueError(
                f"numeric_tokens must be one of {', '.join(_MODES)}, got {self.numeric_tokens=}"
            )
        if self.vectors not in _VECTOR_MODES:
            raise ValueError(
                f"vectors must be one of {', '.join(_VECTOR_MODES)}, got {self.vectors=}"
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
        numeric = self.numeric.build(inputs)
        # Built after the other parts, so that the tables' random initialisation is the same
        # with and without vector features.
        vectors: VectorInputs | None = None
        if inputs.vectors:
            vector_mode = self.vectors
            if vector_mode == "auto":
                vector_mode = "tokens" if interaction_takes == "tokens" else "flat"
            vectors = VectorInputs(
                [v.name for v in inputs.vectors],
                inputs.vector_widths,
                dim=self.embedding_dim,
                mode=vector_mode,
            )
        return Tokenizer(
            numeric,
            embedding,
            dim=self.embedding_dim,
            numeric_tokens=mode,
            bottom_dims=self.bottom_dims,
            vectors=vectors,
        )
