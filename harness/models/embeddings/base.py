"""What every categorical embedding offers: a module that checks, clips and embeds ids, a config
that builds it from the training statistics, and the size it reports (`Footprint`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn

from harness.models.embeddings.clipping import clip_limits
from harness.models.embeddings.sizes import SIZE_RULES, SizeRule, embedding_dims
from harness.models.inputs import FeatureInputs
from harness.models.spec import TensorKind
from harness.registry import PartConfig

__all__ = [
    "CategoricalEmbedding",
    "EmbeddingConfig",
    "EmbeddingOutput",
    "Footprint",
    "footprint_of",
    "output_for",
]

EmbeddingOutput = Literal["tokens", "flat"]


@dataclass(frozen=True)
class Footprint:
    """Parameters and bytes of a model's categorical embeddings (tables and projections)."""

    params: int
    bytes: int

    def __post_init__(self) -> None:
        if self.params < 0 or self.bytes < 0:
            raise ValueError(f"sizes must be non-negative, got {self.params=} {self.bytes=}")


def footprint_of(*modules: nn.Module | None) -> Footprint:
    """The summed parameter count and bytes of ``modules`` (None entries count nothing)."""
    params = [p for m in modules if m is not None for p in m.parameters()]
    return Footprint(
        params=sum(p.numel() for p in params),
        bytes=sum(p.numel() * p.element_size() for p in params),
    )


class CategoricalEmbedding(nn.Module):
    """Base of every categorical embedding: checks ids, clips rare ones, then embeds them.

    Subclasses call `_prepare` on the ids first. Attributes every embedding sets:
    ``cardinalities`` (ids accepted per feature), ``vocabulary`` (ids per feature after
    clipping), ``dims`` (each feature's vector size in its table), ``dim`` (the token size),
    ``output`` and ``width`` (``dim`` for tokens, ``sum(dims)`` flat).

    **Shape**: ``(B, n_cat)`` ids -> ``(B, n_cat, width)`` when ``output == "tokens"``, or
    ``(B, width)`` (every feature's vector concatenated, in feature order) when ``"flat"``.
    """

    limits: Tensor
    clip_at: Tensor | None

    def __init__(
        self,
        cardinalities: Sequence[int],
        *,
        dims: Sequence[int],
        dim: int,
        output: EmbeddingOutput = "tokens",
        clip_to: Sequence[int] | None = None,
        check_ids: bool = True,
    ) -> None:
        """
        Args:
            cardinalities: ids per feature (missing and rare ids included).
            dims: each feature's vector size in its table.
            dim: the token size (``output == "tokens"``; vectors of another size are projected).
            output: ``tokens`` or ``flat``.
            clip_to: per feature, ids ``>= clip_to[j]`` become the rare id 1 (`clip_limits`);
                None clips nothing.
            check_ids: reject ids outside ``[0, cardinality)`` of their feature on CPU inputs
                (an out-of-range id would silently read another feature's rows). GPU inputs
                are not checked: the check would make the host wait for the device each step.
        """
        super().__init__()
        cardinalities = tuple(int(c) for c in cardinalities)
        dims = tuple(int(e) for e in dims)
        if not cardinalities:
            raise ValueError(f"need at least one categorical feature, got {cardinalities=}")
        if min(cardinalities) < 1:
            raise ValueError(f"every cardinality must be positive, got {cardinalities=}")
        if len(dims) != len(cardinalities) or min(dims) < 1:
            raise ValueError(f"need a positive size per feature, got {dims=} {cardinalities=}")
        if output not in ("tokens", "flat"):
            raise ValueError(f"output must be 'tokens' or 'flat', got {output=}")
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim=}")
        vocabulary = cardinalities
        if clip_to is not None:
            clip_to = tuple(int(c) for c in clip_to)
            ok = len(clip_to) == len(cardinalities) and all(
                min(2, n) <= c <= n for c, n in zip(clip_to, cardinalities, strict=True)
            )
            if not ok:
                raise ValueError(
                    f"clip_to must be in [2, cardinality] per feature, got {clip_to=} for "
                    f"{cardinalities=}"
                )
            vocabulary = clip_to
        self.cardinalities = cardinalities
        self.vocabulary = vocabulary
        self.n_features = len(cardinalities)
        self.dims = dims
        self.output: EmbeddingOutput = output
        self.dim = dim
        self.width = dim if output == "tokens" else sum(dims)
        self.check_ids = check_ids
        self.register_buffer("limits", torch.tensor(cardinalities), persistent=False)
        # Nothing to clip, no op on the hot path.
        clipping = vocabulary != cardinalities
        self.register_buffer(
            "clip_at", torch.tensor(vocabulary) if clipping else None, persistent=False
        )

    @property
    def clip_to(self) -> tuple[int, ...] | None:
        """The clipping limits per feature, or None when no id is clipped."""
        return self.vocabulary if self.clip_at is not None else None

    def check_prefix(self, k: int) -> None:
        """Raises ValueError unless the output can be truncated to a ``k``-dimensional prefix
        (Matryoshka embeddings, `prefix_mask`): every feature of the one size ``dim``, ``k`` in
        ``[1, dim)``."""
        if not (isinstance(k, int) and 1 <= k < self.dim):
            raise ValueError(f"a prefix size must be in [1, {self.dim}), got {k=}")
        if self.output != "tokens" or any(e != self.dim for e in self.dims):
            raise ValueError(
                f"a prefix of the embeddings needs one size for every feature (size = 'fixed'), "
                f"got sizes {sorted(set(self.dims))}"
            )

    def prefix_mask(self, k: int) -> Tensor:
        """``(width,)`` 0/1 mask keeping the output's first ``k`` dims: what a model serves when
        it stores only the first ``k`` columns of each table (`prefix_bytes`)."""
        self.check_prefix(k)
        return (torch.arange(self.width, device=self.limits.device) < k).float()

    def prefix_bytes(self, k: int) -> int:
        """Bytes of the ID tables keeping the columns a ``k``-prefix reads (``rows * k``
        entries per table at their element size; ``k == dim``: the whole tables)."""
        if k != self.dim:
            self.check_prefix(k)
        tables = [m for m in self.modules() if isinstance(m, nn.Embedding)]
        return sum(t.weight.shape[0] * k * t.weight.element_size() for t in tables)

    def _prepare(self, x_cat: Tensor) -> Tensor:
        """The ids checked (shape; range on CPU) and clipped."""
        if x_cat.ndim != 2 or x_cat.shape[1] != self.n_features:
            raise ValueError(
                f"expected ids of shape (B, {self.n_features}), got {tuple(x_cat.shape)=}"
            )
        if self.check_ids and x_cat.device.type == "cpu":
            self._check_ids(x_cat)
        if self.clip_at is not None:
            x_cat = x_cat.masked_fill(x_cat >= self.clip_at, 1)
        return x_cat

    def _check_ids(self, x_cat: Tensor) -> None:
        bad = (x_cat < 0) | (x_cat >= self.limits)
        if bool(bad.any()):
            row, j = (int(i) for i in bad.nonzero()[0])
            raise ValueError(
                f"feature {j}: id {int(x_cat[row, j])} outside [0, {self.cardinalities[j]}) "
                f"(row {row} of the batch); the ids do not match the schema's cardinalities"
            )


@dataclass(frozen=True)
class EmbeddingConfig(PartConfig):
    """Base of a registered categorical embedding's config (``EMBEDDINGS``).

    Options every kind shares:

    Attributes:
        min_count: frequency clipping, fitted on train: ids seen fewer than ``min_count`` times
            in the training split become the rare id 1 and get no row of their own (needs
            ``FeatureInputs.counts``; at most 1 clips nothing).
        size: ``fixed`` (the tokenizer's ``embedding_dim`` for every feature), ``log2`` or
            ``root4`` (a size per feature that grows with its vocabulary; see ``sizes.py``).
            Tokens of another size than ``embedding_dim`` are projected to it by a learned
            linear map per feature; a flat interaction takes the vectors as they are.
        size_scale: multiplies the ``log2`` and ``root4`` sizes.
        max_dim: the largest ``log2`` or ``root4`` size.
    """

    min_count: int = 0
    size: SizeRule = "fixed"
    size_scale: float = 1.0
    max_dim: int = 64

    def __post_init__(self) -> None:
        if not (isinstance(self.min_count, int) and self.min_count >= 0):
            raise ValueError(f"min_count must be an integer >= 0, got {self.min_count=}")
        if self.size not in SIZE_RULES:
            raise ValueError(f"size must be one of {', '.join(SIZE_RULES)}, got {self.size=}")
        if not self.size_scale > 0.0:
            raise ValueError(f"size_scale must be positive, got {self.size_scale=}")
        if not (isinstance(self.max_dim, int) and self.max_dim >= 1):
            raise ValueError(f"max_dim must be an integer >= 1, got {self.max_dim=}")

    def check_dim(self, dim: int) -> None:
        """Raises ValueError if this embedding cannot give tokens of size ``dim``."""

    def build(
        self, inputs: FeatureInputs, *, dim: int, takes: TensorKind, init_std: float = 0.01
    ) -> CategoricalEmbedding:
        """The embedding of ``inputs``'s categorical features.

        Args:
            inputs: the cardinalities and training counts.
            dim: the token size ``d`` (and the ``fixed`` size).
            takes: what the interaction takes: with ``tokens`` every feature gives a token of
                size ``d``; with ``flat``, features of other sizes give their vectors as they
                are (``output == "flat"``).
            init_std: standard deviation of the tables' normal initialisation.
        """
        raise NotImplementedError

    def vocabulary(self, inputs: FeatureInputs) -> tuple[int, ...]:
        """Ids per feature after frequency clipping."""
        return clip_limits(inputs.cardinalities, inputs.counts, self.min_count)

    def dims(self, vocabulary: Sequence[int], dim: int) -> tuple[int, ...]:
        """Each feature's embedding size."""
        return embedding_dims(
            vocabulary, self.size, dim=dim, scale=self.size_scale, max_dim=self.max_dim
        )


def output_for(dims: Sequence[int], dim: int, takes: TensorKind) -> EmbeddingOutput:
    """``tokens`` for a token interaction or when every size is ``dim``, else ``flat``."""
    return "tokens" if takes == "tokens" or all(e == dim for e in dims) else "flat"
