"""``hashing``: the hashing trick, a smaller table per feature that ids are hashed into.

What is hashed is the value's vocabulary id: every value the training split saw at least
``--min-count`` times (``harness prepare``) has its own id, and the others share the rare id 1
before any hashing. Prepare with ``--min-count 1`` to hash every training value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.embeddings.base import CategoricalEmbedding, EmbeddingConfig, output_for
from harness.models.embeddings.grouped import GroupedEmbedding
from harness.models.embeddings.hashes import MAX_ID, feature_seeds, hash_ids
from harness.models.inputs import FeatureInputs
from harness.models.spec import TensorKind

__all__ = ["FeatureHash", "HashingConfig", "hashed_rows"]


def hashed_rows(vocabulary: Sequence[int], *, ratio: float, rows: int = 0) -> tuple[int, ...]:
    """Rows per feature: ``ceil(ratio * n)`` (or ``rows`` when > 0), at least 2, at most ``n``."""
    return tuple(min(n, max(2, rows if rows > 0 else math.ceil(ratio * n))) for n in vocabulary)


class FeatureHash(nn.Module):
    """Maps each feature's ids to rows of its smaller table with a seeded hash.

    The missing id 0 keeps row 0; an id ``k >= 1`` goes to row ``1 + hash_j(k) % (rows_j - 1)``.
    A feature whose table has a row per id (``rows_j == vocabulary_j``) keeps its ids.

    **Shape**: ``(B, n)`` ids -> ``(B, n)`` int64 rows.

    **Examples**

    >>> h = FeatureHash([1000, 3], [100, 3], seed=0)
    >>> rows = h(torch.tensor([[0, 2], [999, 1]]))
    >>> rows[0, 0].item(), rows[:, 1].tolist(), bool((rows[:, 0] < 100).all())
    (0, [2, 1], True)
    """

    seeds: Tensor
    buckets: Tensor
    exact: Tensor | None

    def __init__(self, vocabulary: Sequence[int], rows: Sequence[int], *, seed: int = 0) -> None:
        super().__init__()
        vocabulary = tuple(int(n) for n in vocabulary)
        rows = tuple(int(r) for r in rows)
        if len(rows) != len(vocabulary) or not all(
            1 <= r <= n for r, n in zip(rows, vocabulary, strict=True)
        ):
            raise ValueError(f"need 1 <= rows <= vocabulary per feature, got {rows=} {vocabulary=}")
        if max(vocabulary) - 1 > MAX_ID:
            raise ValueError(f"ids must fit 32 bits to be hashed, got {max(vocabulary)=}")
        self.vocabulary = vocabulary
        self.rows = rows
        seeds = [s for (s,) in feature_seeds(len(rows), 1, seed)]
        self.register_buffer("seeds", torch.tensor(seeds, dtype=torch.int64), persistent=False)
        # A one-row table (a feature with a single id) has no bucket: max(1, .) avoids % 0.
        buckets = [max(1, r - 1) for r in rows]
        self.register_buffer("buckets", torch.tensor(buckets), persistent=False)
        exact = [r == n for r, n in zip(rows, vocabulary, strict=True)]
        self.register_buffer("exact", torch.tensor(exact) if any(exact) else None, persistent=False)

    def forward(self, ids: Tensor) -> Tensor:
        ids = ids.long()
        rows = (hash_ids(ids, self.seeds) % self.buckets + 1).masked_fill(ids == 0, 0)
        if self.exact is not None:
            rows = torch.where(self.exact, ids, rows)
        return rows


@dataclass(frozen=True)
class HashingConfig(EmbeddingConfig):
    """``hashing``: the hashing trick, one smaller table per feature.

    Feature ``j``'s table has ``ceil(ratio * n_j)`` rows (``n_j`` its ids after clipping), or
    ``rows`` when ``rows > 0``, and at least 2 (the missing id keeps its own row); ids are hashed
    into it with a per-feature seed (`FeatureHash`). A feature whose table would have a row per
    id is not hashed. Hashed on the fly: no vocabulary-sized buffer. This hashes the value's
    vocabulary id (every value the training split saw at least ``--min-count`` times has one;
    prepare with ``--min-count 1`` to hash every training value).

    Attributes:
        ratio: table rows per id, in ``(0, 1]``.
        rows: rows per feature instead of the ratio (0: use ``ratio``).
        seed: picks the hash functions.
    """

    ratio: float = 0.5
    rows: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio=}")
        if not (isinstance(self.rows, int) and self.rows >= 0):
            raise ValueError(f"rows must be an integer >= 0, got {self.rows=}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 1 << 31):
            raise ValueError(f"seed must be an integer in [0, 2**31), got {self.seed=}")

    def build(
        self, inputs: FeatureInputs, *, dim: int, takes: TensorKind, init_std: float = 0.01
    ) -> CategoricalEmbedding:
        vocabulary = self.vocabulary(inputs)
        rows = hashed_rows(vocabulary, ratio=self.ratio, rows=self.rows)
        dims = self.dims(vocabulary, dim)
        exact = rows == vocabulary
        return GroupedEmbedding(
            inputs.cardinalities,
            dims=dims,
            dim=dim,
            output=output_for(dims, dim, takes),
            rows=rows,
            row_map=None if exact else FeatureHash(vocabulary, rows, seed=self.seed),
            clip_to=vocabulary if vocabulary != inputs.cardinalities else None,
            init_std=init_std,
        )
