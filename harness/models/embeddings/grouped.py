"""``GroupedEmbedding``: per-feature blocks of rows, one fused table per distinct size."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from harness.models.embeddings.base import CategoricalEmbedding, EmbeddingOutput
from harness.models.embeddings.projection import GroupedOutput
from harness.models.embeddings.sizes import size_groups

__all__ = ["GroupedEmbedding"]


class GroupedEmbedding(CategoricalEmbedding):
    """Each feature owns a block of ``rows[j]`` rows; blocks of one size share a fused table.

    Ids are checked, clipped, then mapped to rows by ``row_map`` (the hashing trick) or taken as
    they are, looked up with per-feature offsets, one lookup per distinct size, and assembled
    by `GroupedOutput` (tokens projected to ``dim`` where a size differs, or one flat vector).

    **Shape**: ``(B, n_cat)`` -> ``(B, n_cat, dim)`` (tokens) or ``(B, sum(dims))`` (flat).

    **Examples**

    >>> m = GroupedEmbedding([10, 500], dims=[4, 9], dim=8, output="tokens")
    >>> m(torch.tensor([[3, 4], [0, 1]])).shape
    torch.Size([2, 2, 8])
    """

    perm: Tensor | None
    offsets: Tensor

    def __init__(
        self,
        cardinalities: Sequence[int],
        *,
        dims: Sequence[int],
        dim: int,
        output: EmbeddingOutput,
        rows: Sequence[int] | None = None,
        row_map: nn.Module | None = None,
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
            rows: rows per feature (default: its ids after clipping).
            row_map: maps the clipped ids ``(B, n_cat)`` to rows in ``[0, rows[j])``; None
                takes the ids as rows.
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
        rows = self.vocabulary if rows is None else tuple(int(r) for r in rows)
        if len(rows) != self.n_features or min(rows) < 1:
            raise ValueError(f"need a positive row count per feature, got {rows=}")
        self.rows = rows
        self.row_map = row_map
        groups = size_groups(self.dims)
        order = [j for _, fs in groups for j in fs]
        # Ids in group order, so that each group's columns are one slice.
        self.register_buffer(
            "perm", torch.tensor(order) if len(groups) > 1 else None, persistent=False
        )
        offsets: list[int] = []
        self._spans: list[tuple[int, int]] = []
        self.tables = nn.ModuleList()
        for e, fs in groups:
            start = len(offsets)
            block = [rows[j] for j in fs]
            offsets.extend(sum(block[:i]) for i in range(len(block)))
            self._spans.append((start, len(offsets)))
            table = nn.Embedding(sum(block), e, sparse=sparse)
            nn.init.normal_(table.weight, std=init_std)
            self.tables.append(table)
        self.register_buffer("offsets", torch.tensor(offsets), persistent=False)
        self.out = GroupedOutput(groups, dim=dim, output=output)

    def forward(self, x_cat: Tensor) -> Tensor:
        ids = self._prepare(x_cat)
        if self.row_map is not None:
            ids = self.row_map(ids)
        if self.perm is not None:
            ids = ids.index_select(1, self.perm)
        ids = ids + self.offsets
        groups = [
            table(ids[:, start:stop])
            for table, (start, stop) in zip(self.tables, self._spans, strict=True)
        ]
        out: Tensor = self.out(groups)
        return out
