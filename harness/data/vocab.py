"""Categorical vocabularies: fitted from training value counts, then raw keys mapped to ids.

Raw values are integer keys (`harness.data.table`): uint32 for hex hashes, uint64 for integers
and hashed strings. Ids: 0 missing, 1 rare (training count below ``min_count``, or unseen in
training), then 2.. in order of descending training count, ties by ascending key. That is a
total order over the distinct values, so the vocabulary does not depend on how the counts were
cut up and merged (blocks, shards, or nodes of a cluster).
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from harness.data.schema import MISSING_ID, RARE_ID

__all__ = [
    "POLARS_VOCAB_MAX",
    "CategoricalEncoder",
    "IdTable",
    "fit_vocabulary",
]

# Up to this many vocabulary values polars' replace_strict is fastest (its per-call hash map is
# cheap and it runs the columns in parallel); above it the prebuilt `IdTable` is.
POLARS_VOCAB_MAX = 1 << 17


def fit_vocabulary(
    counts: pl.DataFrame, column: str, *, missing: int, min_count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The vocabulary of one column from its training value counts.

    Args:
        counts: one row per distinct training value: ``column`` (UInt32 or UInt64) and
            ``count`` (Int64).
        column: the column name.
        missing: training rows where the column is missing.
        min_count: training count a value needs to get its own id.

    Returns:
        ``(values, cat_counts)``: the raw key of ids 2.. (uint32 or uint64, the column's type),
        and the int64 training count of every id (index = id; id 1 sums the rare values).
    """
    kept = counts.filter(pl.col("count") >= min_count).sort(
        ["count", column], descending=[True, False]
    )
    rare = int(counts.filter(pl.col("count") < min_count)["count"].sum())
    dtype = np.uint32 if counts.schema[column] == pl.UInt32 else np.uint64
    values = kept[column].to_numpy().astype(dtype)
    cat_counts = np.concatenate(
        [np.array([missing, rare], dtype=np.int64), kept["count"].to_numpy()]
    ).astype(np.int64)
    return values, cat_counts


class IdTable:
    """Raw key -> id for one column: an open-addressing hash table in numpy, built once.

    Keys are uint32 (hex hashes) or uint64 (integers, hashed strings); lookups take the same type.

    Why not polars ``replace_strict`` or a join per block: both rebuild a hash map of the whole
    vocabulary on every call, which for multi-million vocabularies (full Criteo) costs more than
    the block itself. Built once, looked up vectorised: linear probing at load <= 1/2, so each
    round resolves most of the remaining values and the rounds are few.
    """

    def __init__(self, values: np.ndarray) -> None:
        self.dtype = np.dtype(np.uint64 if values.dtype == np.uint64 else np.uint32)
        values = values.astype(self.dtype)
        # size >= 2 * len; at most 2^32 slots, far above any real vocabulary
        self.bits = min(32, max(3, int(2 * max(len(values), 1) - 1).bit_length()))
        self.mask = (1 << self.bits) - 1
        self.keys = np.zeros(1 << self.bits, dtype=self.dtype)
        self.ids = np.zeros(1 << self.bits, dtype=np.int32)  # 0: empty slot (ids start at 2)
        position = self._slot(values)
        pending = np.arange(len(values))
        while pending.size:
            slots = position[pending]
            free = self.ids[slots] == 0
            # Of several values probing the same free slot, the first one takes it.
            taken, first = np.unique(slots[free], return_index=True)
            winners = pending[free][first]
            self.keys[taken] = values[winners]
            self.ids[taken] = winners.astype(np.int32) + 2
            placed = np.zeros(len(values), dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            position[pending] = (position[pending] + 1) & self.mask

    def _slot(self, values: np.ndarray) -> np.ndarray:
        # Fibonacci hashing: the top bits of a multiplicative hash (wrapping, in the key type).
        if self.dtype == np.uint32:
            product = values * np.uint32(0x9E3779B1)
            slots: np.ndarray = (product >> np.uint32(32 - self.bits)).astype(np.intp)
        else:
            wide = values * np.uint64(0x9E3779B97F4A7C15)
            slots = (wide >> np.uint64(64 - self.bits)).astype(np.intp)
        return slots

    def lookup(self, values: np.ndarray) -> np.ndarray:
        """Ids (int32) of ``values`` (the table's key type); RARE_ID for values not in it."""
        out = np.full(values.shape, RARE_ID, dtype=np.int32)
        index = np.arange(values.size)
        slots = self._slot(values)
        while index.size:
            ids = self.ids[slots]
            hit = (ids != 0) & (self.keys[slots] == values)
            out[index[hit]] = ids[hit]
            going_on = (ids != 0) & ~hit  # occupied by another value: probe the next slot
            index, values = index[going_on], values[going_on]
            slots = (slots[going_on] + 1) & self.mask
        return out


class CategoricalEncoder:
    """Raw key columns -> x_cat ``[n, n_cat]`` int32 (MISSING_ID for null, RARE_ID if absent).

    Built once per vocabulary (the id tables of large vocabularies are the costly part) and
    called once per block.

    Args:
        vocab_values: column -> the raw values of ids 2.., in the column order of ``x_cat``.
        pool: threads for the numpy lookups (numpy releases the GIL in them).
    """

    def __init__(self, vocab_values: Mapping[str, np.ndarray], pool: ThreadPoolExecutor) -> None:
        self.pool = pool
        self.columns = tuple(vocab_values)
        self.small: dict[int, pl.Expr] = {}
        large: list[int] = []
        for j, c in enumerate(self.columns):
            if len(vocab_values[c]) <= POLARS_VOCAB_MAX:
                self.small[j] = _replace_expr(c, vocab_values[c])
            else:
                large.append(j)
        built = pool.map(lambda j: IdTable(vocab_values[self.columns[j]]), large)
        self.tables = dict(zip(large, built, strict=True))

    def __call__(self, frame: pl.DataFrame) -> np.ndarray:
        out = np.empty((frame.height, len(self.columns)), dtype=np.int32)
        if self.small:
            encoded = frame.select(list(self.small.values()))
            for j, series in zip(self.small, encoded.iter_columns(), strict=True):
                out[:, j] = series.to_numpy()

        # numpy releases the GIL in the gathers and comparisons: the columns run in threads.
        def encode(j: int) -> None:
            column = frame[self.columns[j]]
            ids = self.tables[j].lookup(column.fill_null(0).to_numpy())
            if column.null_count():
                ids[column.is_null().to_numpy()] = MISSING_ID
            out[:, j] = ids

        list(self.pool.map(encode, self.tables))
        return out


def _replace_expr(column: str, values: np.ndarray) -> pl.Expr:
    old = pl.Series(values, dtype=pl.UInt64 if values.dtype == np.uint64 else pl.UInt32)
    new = pl.Series(np.arange(2, 2 + len(values), dtype=np.int32), dtype=pl.Int32)
    mapped = pl.col(column).replace_strict(
        old, new, default=pl.lit(RARE_ID, dtype=pl.Int32), return_dtype=pl.Int32
    )
    missing = pl.lit(MISSING_ID, dtype=pl.Int32)
    return pl.when(pl.col(column).is_null()).then(missing).otherwise(mapped).alias(column)
