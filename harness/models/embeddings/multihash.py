"""``multihash``: unified multi-hash embedding (Coleman et al. 2023, "Unified Embedding").

Every feature shares one table of width ``d / k``; a value is hashed ``k`` times with seeds of
its own feature and its ``k`` rows are concatenated into its ``d``-vector. Two values share their
whole vector only if all ``k`` hashes collide, which is far rarer than one collision of the
hashing trick at the same memory, and the shared table lets busy features use the rows that
rare ones leave free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from harness.models.embeddings.base import CategoricalEmbedding, EmbeddingConfig
from harness.models.embeddings.hashes import MAX_ID, feature_seeds, hash_ids
from harness.models.inputs import FeatureInputs
from harness.models.spec import TensorKind

__all__ = ["MultiHashConfig", "MultiHashEmbedding"]


class MultiHashEmbedding(CategoricalEmbedding):
    """``n_cat`` features in one shared ``(rows, dim / hashes)`` table, ``hashes`` rows per value.

    Rows ``[0, n_cat * hashes)`` are reserved: feature ``j``'s missing id 0 reads rows
    ``j * hashes + i`` (a vector of its own, as in the hashing trick); any other id ``k`` reads
    rows ``n_cat * hashes + hash(k, seed_ji) % buckets`` for ``i < hashes``, with ``buckets`` the
    remaining rows.

    **Shape**: ``(B, n_cat)`` -> ``(B, n_cat, dim)``.

    **Examples**

    >>> m = MultiHashEmbedding([1000, 50], dim=8, hashes=2, rows=64)
    >>> m(torch.tensor([[3, 4], [0, 1]])).shape
    torch.Size([2, 2, 8])
    """

    seeds: Tensor
    missing_rows: Tensor

    def __init__(
        self,
        cardinalities: Sequence[int],
        *,
        dim: int,
        hashes: int,
        rows: int,
        seed: int = 0,
        clip_to: Sequence[int] | None = None,
        sparse: bool = True,
        init_std: float = 0.01,
        check_ids: bool = True,
    ) -> None:
        """
        Args:
            cardinalities: ids per feature (missing and rare ids included).
            dim: the token size ``d``, a multiple of ``hashes``.
            hashes: hash functions per value ``k``.
            rows: rows of the shared table, reserved missing rows included.
            seed: picks the hash functions.
            clip_to: frequency clipping limits (`CategoricalEmbedding`).
            sparse: sparse table gradients (``torch.optim.SparseAdam``).
            init_std: standard deviation of the table's normal initialisation.
            check_ids: reject out-of-range ids on CPU inputs.
        """
        if hashes < 1 or dim % hashes:
            raise ValueError(f"dim must be a multiple of hashes, got {dim=} {hashes=}")
        if not init_std > 0.0:
            raise ValueError(f"init_std must be positive, got {init_std=}")
        super().__init__(
            cardinalities,
            dims=(dim,) * len(cardinalities),
            dim=dim,
            clip_to=clip_to,
            check_ids=check_ids,
        )
        reserved = self.n_features * hashes
        if rows <= reserved:
            raise ValueError(
                f"rows={rows} leaves no bucket after the {reserved} rows kept for missing ids "
                f"({self.n_features} features x {hashes} hashes)"
            )
        if max(self.vocabulary) - 1 > MAX_ID:
            raise ValueError(f"ids must fit 32 bits to be hashed, got {max(self.vocabulary)=}")
        self.hashes = hashes
        self.rows = rows
        self.reserved = reserved
        self.buckets = rows - reserved
        seeds = feature_seeds(self.n_features, hashes, seed)
        self.register_buffer("seeds", torch.tensor(seeds, dtype=torch.int64), persistent=False)
        missing = torch.arange(reserved, dtype=torch.int64).view(self.n_features, hashes)
        self.register_buffer("missing_rows", missing, persistent=False)
        self.table = nn.Embedding(rows, dim // hashes, sparse=sparse)
        nn.init.normal_(self.table.weight, std=init_std)

    def row_ids(self, x_cat: Tensor) -> Tensor:
        """``(B, n_cat, hashes)`` rows of the clipped ids ``x_cat``."""
        ids = x_cat.long().unsqueeze(-1)
        hashed = hash_ids(ids, self.seeds) % self.buckets + self.reserved
        return torch.where(ids == 0, self.missing_rows, hashed)

    def check_prefix(self, k: int) -> None:
        """A prefix keeps the first ``k / hashes`` columns of the shared table, so of each
        hashed row: ``k`` must be a multiple of ``hashes``."""
        super().check_prefix(k)
        if k % self.hashes:
            raise ValueError(
                f"multihash concatenates {self.hashes} rows per id, so a prefix size must be a "
                f"multiple of hashes={self.hashes}, got {k=}"
            )

    def prefix_mask(self, k: int) -> Tensor:
        """Keeps the first ``k / hashes`` dims of each of the ``hashes`` concatenated rows: the
        table then serves with ``k / hashes`` columns (a plain prefix of the concatenation
        would need every column for any ``k`` above ``dim / hashes``)."""
        self.check_prefix(k)
        width = self.dim // self.hashes
        at = torch.arange(self.dim, device=self.limits.device) % width
        return (at < k // self.hashes).float()

    def prefix_bytes(self, k: int) -> int:
        if k != self.dim:
            self.check_prefix(k)
        return self.rows * (k // self.hashes) * self.table.weight.element_size()

    def forward(self, x_cat: Tensor) -> Tensor:
        rows = self.row_ids(self._prepare(x_cat))
        out: Tensor = self.table(rows).flatten(2)
        return out


@dataclass(frozen=True)
class MultiHashConfig(EmbeddingConfig):
    """``multihash``: one shared table, ``hashes`` hashed rows of width ``d / hashes`` per value.

    The table has ``ceil(ratio * V)`` rows, ``V`` the ids of all features after clipping, or
    ``rows`` when ``rows > 0``; ``hashes * n_cat`` of them are kept for the missing ids. Every
    feature has the size ``embedding_dim`` (a row of the shared table cannot be cut), which must
    be a multiple of ``hashes``.

    Attributes:
        hashes: hash functions per value ``k``.
        ratio: table rows per id of the total vocabulary, in ``(0, 1]``.
        rows: table rows instead of the ratio (0: use ``ratio``).
        seed: picks the hash functions.
    """

    hashes: int = 2
    ratio: float = 0.5
    rows: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size != "fixed":
            raise ValueError(
                f"multihash gives every feature the size embedding_dim (one shared table), so "
                f"size must be 'fixed', got {self.size=}"
            )
        if not (isinstance(self.hashes, int) and self.hashes >= 1):
            raise ValueError(f"hashes must be an integer >= 1, got {self.hashes=}")
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError(f"ratio must be in (0, 1], got {self.ratio=}")
        if not (isinstance(self.rows, int) and self.rows >= 0):
            raise ValueError(f"rows must be an integer >= 0, got {self.rows=}")
        if not (isinstance(self.seed, int) and 0 <= self.seed < 1 << 31):
            raise ValueError(f"seed must be an integer in [0, 2**31), got {self.seed=}")

    def check_dim(self, dim: int) -> None:
        if dim % self.hashes:
            raise ValueError(
                f"embedding_dim={dim} is not a multiple of hashes={self.hashes} (multihash "
                "concatenates hashes vectors of width embedding_dim / hashes)"
            )

    def table_rows(self, vocabulary: Sequence[int]) -> int:
        """The shared table's rows for these vocabularies (reserved missing rows included)."""
        reserved = len(vocabulary) * self.hashes
        wanted = self.rows if self.rows > 0 else math.ceil(self.ratio * sum(vocabulary))
        # At least one bucket beyond the reserved rows (a tiny vocabulary with a small ratio).
        return max(wanted, reserved + 1) if self.rows == 0 else wanted

    def build(
        self, inputs: FeatureInputs, *, dim: int, takes: TensorKind, init_std: float = 0.01
    ) -> MultiHashEmbedding:
        self.check_dim(dim)
        vocabulary = self.vocabulary(inputs)
        return MultiHashEmbedding(
            inputs.cardinalities,
            dim=dim,
            hashes=self.hashes,
            rows=self.table_rows(vocabulary),
            seed=self.seed,
            clip_to=vocabulary if vocabulary != inputs.cardinalities else None,
            init_std=init_std,
        )
