"""``tables``: one sparse ``nn.Embedding`` per feature."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.embeddings.base import (
    CategoricalEmbedding,
    EmbeddingConfig,
    EmbeddingOutput,
    output_for,
)
from harness.models.embeddings.projection import GroupedOutput
from harness.models.embeddings.sizes import size_groups
from harness.models.inputs import FeatureInputs
from harness.models.spec import TensorKind

__all__ = ["PerFeatureEmbedding", "TablesConfig"]


class PerFeatureEmbedding(CategoricalEmbedding):
    """A table of ``vocabulary[j]`` rows and ``dims[j]`` columns per feature.

    One lookup and one sparse gradient per feature per step (``fused`` does one for all): the
    layout of most CTR libraries, kept as a baseline and for per-table optimiser state.

    **Shape**: ``(B, n_cat)`` -> ``(B, n_cat, dim)`` (tokens) or ``(B, sum(dims))`` (flat).

    **Examples**

    >>> m = PerFeatureEmbedding([10, 5], dims=[4, 4], dim=4, output="tokens")
    >>> m(torch.tensor([[3, 4], [0, 1]])).shape
    torch.Size([2, 2, 4])
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        *,
        dims: Sequence[int],
        dim: int,
        output: EmbeddingOutput,
        clip_to: Sequence[int] | None = None,
        sparse: bool = True,
        init_std: float = 0.01,
        check_ids: bool = True,
    ) -> None:
        """
        Args:
            cardinalities: ids per feature (missing and rare ids included).
            dims: each feature's vector size.
            dim: the token size (``tokens`` output).
            output: ``tokens`` or ``flat``.
            clip_to: frequency clipping limits (`CategoricalEmbedding`).
            sparse: sparse table gradients (``torch.optim.SparseAdam``).
            init_std: standard deviation of the tables' normal initialisation.
            check_ids: reject out-of-range ids on CPU inputs.
        """
        if not init_std > 0.0:
            raise ValueError(f"init_std must be positive, got {init_std=}")
        super().__init__(
            cardinalities, dims=dims, dim=dim, output=output, clip_to=clip_to, check_ids=check_ids
        )
        self.tables = nn.ModuleList()
        for n, e in zip(self.vocabulary, self.dims, strict=True):
            table = nn.Embedding(n, e, sparse=sparse)
            nn.init.normal_(table.weight, std=init_std)
            self.tables.append(table)
        self._groups = size_groups(self.dims)
        self.out = (
            GroupedOutput(self._groups, dim=dim, output=output) if output == "tokens" else None
        )

    def forward(self, x_cat: Tensor) -> Tensor:
        ids = self._prepare(x_cat)
        vectors = [table(ids[:, j]) for j, table in enumerate(self.tables)]
        if self.out is None:  # flat: already in feature order
            return torch.cat(vectors, dim=1)
        groups = [torch.stack([vectors[j] for j in fs], dim=1) for _, fs in self._groups]
        out: Tensor = self.out(groups)
        return out


@dataclass(frozen=True)
class TablesConfig(EmbeddingConfig):
    """``tables``: one sparse table per feature. No options beyond the shared ones."""

    def build(
        self, inputs: FeatureInputs, *, dim: int, takes: TensorKind, init_std: float = 0.01
    ) -> PerFeatureEmbedding:
        vocabulary = self.vocabulary(inputs)
        dims = self.dims(vocabulary, dim)
        return PerFeatureEmbedding(
            inputs.cardinalities,
            dims=dims,
            dim=dim,
            output=output_for(dims, dim, takes),
            clip_to=vocabulary if vocabulary != inputs.cardinalities else None,
            init_std=init_std,
        )
