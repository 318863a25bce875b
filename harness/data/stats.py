"""Numeric statistics fitted in the count pass on the training rows, stored with the schema.

Per numeric column: count, mean, standard deviation, minimum, maximum (integer columns are summed
in Python integers, so they do not depend on how rows were cut into blocks, shards or nodes; float
columns add their float64 block sums as exact fractions, so the order in which shards arrive from
a cluster does not change a bit of the result), and quantile knots for encodings that need the
empirical distribution (CDF, quantile bins, piecewise-linear encodings).

The knots come from a sample of the training rows chosen by a hash of each row's global index
(about ``SAMPLE_ROWS`` rows whatever the dataset's size): bounded memory, and the same rows
whichever way the file was cut. No trial re-scans the data to fit an encoding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import polars as pl

from harness.data.hashing import splitmix64
from harness.data.schema import NumericFeature

__all__ = [
    "QUANTILES",
    "SAMPLE_ROWS",
    "BlockMoments",
    "Moments",
    "NumericSketch",
    "describe_numeric",
    "sample_mask",
]

SAMPLE_ROWS = 1 << 17
QUANTILES = 257  # knots at q = 0, 1/256, ..., 1
_SAMPLE_KEY = 0x5851F42D4C957F2D
_INT32_BOUND = 1 << 31


@dataclass
class Moments:
    """Count, sum, sum of squares, minimum and maximum of one column (missing values aside).

    Integer columns keep Python integers; float columns keep each block's float64 sums as exact
    fractions, so sums over blocks and shards are the same in any order.
    """

    count: int = 0
    total: int | Fraction = 0
    squares: int | Fraction = 0
    low: int | float | None = None
    high: int | float | None = None

    def add(self, other: Moments) -> None:
        self.count += other.count
        self.total += other.total
        self.squares += other.squares
        for name, pick in (("low", min), ("high", max)):
            mine, theirs = getattr(self, name), getattr(other, name)
            if theirs is not None:
                setattr(self, name, theirs if mine is None else pick(mine, theirs))

    @property
    def mean(self) -> float:
        return float(self.total / self.count) if self.count else 0.0

    @property
    def std(self) -> float:
        """Population standard deviation, from ``(n*S2 - S1^2) / n^2`` in exact arithmetic."""
        if not self.count:
            return 0.0
        variance = (self.count * self.squares - self.total**2) / self.count**2
        return float(np.sqrt(max(float(variance), 0.0)))


def _int_exprs(column: str) -> list[pl.Expr]:
    """Per-block exact sums of an integer column. x = hi * 2^16 + lo keeps every product
    within int64 for |x| < 2^31; wider values are summed in Int128 (`_wide_sums`)."""
    x = pl.col(column).cast(pl.Int64)
    hi = x // 65536
    lo = x - hi * 65536
    return [
        x.count().alias(f"{column}_n"),
        x.sum().alias(f"{column}_s"),
        x.min().alias(f"{column}_min"),
        x.max().alias(f"{column}_max"),
        (hi * hi).sum().alias(f"{column}_hh"),
        (hi * lo).sum().alias(f"{column}_hl"),
        (lo * lo).sum().alias(f"{column}_ll"),
    ]


def _float_exprs(column: str) -> list[pl.Expr]:
    x = pl.col(column).cast(pl.Float64)
    return [
        x.count().alias(f"{column}_n"),
        x.sum().alias(f"{column}_s"),
        x.min().alias(f"{column}_min"),
        x.max().alias(f"{column}_max"),
        (x * x).sum().alias(f"{column}_sq"),
    ]


class BlockMoments:
    """The block moments of numeric columns: polars expressions, then their values read back.

    Select `exprs` on a block (with other queries, in one ``collect_all``), then ``read(row,
    block)`` gives one `Moments` per column.
    """

    def __init__(self, columns: Sequence[str], kinds: Sequence[str]) -> None:
        self.columns = tuple(columns)
        self.kinds = tuple(kinds)
        self.exprs: list[pl.Expr] = []
        for column, kind in zip(self.columns, self.kinds, strict=True):
            self.exprs += _float_exprs(column) if kind == "float" else _int_exprs(column)

    def read(self, values: Mapping[str, Any], block: pl.DataFrame) -> list[Moments]:
        out = []
        for column, kind in zip(self.columns, self.kinds, strict=True):
            n = int(values[f"{column}_n"])
            low, high = values[f"{column}_min"], values[f"{column}_max"]
            if kind == "float":
                out.append(
                    Moments(
                        n,
                        Fraction(float(values[f"{column}_s"] or 0.0)),
                        Fraction(float(values[f"{column}_sq"] or 0.0)),
                        None if low is None else float(low),
                        None if high is None else float(high),
                    )
                )
                continue
            if low is not None and (low < -_INT32_BOUND or high >= _INT32_BOUND):
                total, squares = _wide_sums(block, column)
            else:
                hh, hl, ll = (int(values[f"{column}_{k}"] or 0) for k in ("hh", "hl", "ll"))
                squares = (hh << 32) + (hl << 17) + ll
                total = int(values[f"{column}_s"] or 0)
            out.append(
                Moments(
                    n, total, squares, None if low is None else int(low),
                    None if high is None else int(high),
                )
            )  # fmt: skip
        return out


def _wide_sums(block: pl.DataFrame, column: str) -> tuple[int, int]:
    """The exact sum and sum of squares of an Int64 column with values beyond 32 bits (Int128:
    an Int64 sum of such values could wrap)."""
    x = pl.col(column).cast(pl.Int128)
    total, squares = block.select(x.sum(), (x * x).sum().alias("sq")).row(0)
    return int(total or 0), int(squares or 0)


def sample_mask(first_row: int, rows: int, n_rows: int) -> np.ndarray:
    """Which of rows ``[first_row, first_row + rows)`` belong to the quantile sample.

    A row is in with probability ``SAMPLE_ROWS / n_rows`` (all rows of a small dataset), decided
    by a hash of its global index: the same rows however the data was cut.
    """
    if n_rows <= SAMPLE_ROWS:
        return np.ones(rows, dtype=bool)
    index = np.arange(first_row, first_row + rows, dtype=np.uint64) ^ np.uint64(_SAMPLE_KEY)
    z = splitmix64(index)
    threshold = np.uint64(int(SAMPLE_ROWS / n_rows * float(1 << 64)) & ((1 << 64) - 1))
    mask: np.ndarray = z < threshold
    return mask


@dataclass
class NumericSketch:
    """Moments and a value sample per numeric column, summed block by block and shard by shard."""

    columns: tuple[str, ...]
    moments: list[Moments] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)  # float64 [rows, n_columns]

    def __post_init__(self) -> None:
        if not self.moments:
            self.moments = [Moments() for _ in self.columns]

    def add_moments(self, moments: Sequence[Moments]) -> None:
        for mine, theirs in zip(self.moments, moments, strict=True):
            mine.add(theirs)

    def add_sample(self, values: np.ndarray) -> None:
        if values.size:
            self.samples.append(values.astype(np.float64, copy=False))

    def add(self, other: NumericSketch) -> None:
        self.add_moments(other.moments)
        self.samples.extend(other.samples)

    def quantiles(self) -> list[tuple[float, ...]]:
        """Knots at ``QUANTILES`` evenly spaced levels per column (() when no value was seen).

        The sample's order does not matter (quantiles of a multiset), so shards may arrive in
        any order.
        """
        if not self.columns:
            return []
        stacked = (
            np.concatenate(self.samples)
            if self.samples
            else np.zeros((0, len(self.columns)), dtype=np.float64)
        )
        levels = np.linspace(0.0, 1.0, QUANTILES)
        out: list[tuple[float, ...]] = []
        for j in range(len(self.columns)):
            # polars sorts on every core; the interpolation is numpy's "linear" quantile.
            ordered = pl.Series(stacked[:, j]).drop_nans().sort().to_numpy()
            if not ordered.size:
                out.append(())
                continue
            position = levels * (ordered.size - 1)
            low = np.floor(position).astype(np.int64)
            high = np.minimum(low + 1, ordered.size - 1)
            weight = position - low
            knots = ordered[low] * (1.0 - weight) + ordered[high] * weight
            out.append(tuple(float(k) for k in knots))
        return out


def describe_numeric(
    names: Sequence[str], x: np.ndarray, kinds: Sequence[str] | None = None
) -> tuple[NumericFeature, ...]:
    """The statistics the count pass fits, computed from an in-memory training ``x`` ``(N, F)``.

    For datasets built in memory (tests, benchmarks, generators): the same moments, quantile
    sample rule and knots as preprocessing, so an encoding sees the same statistics either way.
    """
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(names):
        raise ValueError(f"expected x of shape (N, {len(names)}), got {x.shape=}")
    kinds = tuple(kinds) if kinds is not None else ("float",) * len(names)
    n_rows = x.shape[0]
    sketch = NumericSketch(tuple(names))
    sketch.add_sample(x[sample_mask(0, n_rows, n_rows)])
    out = []
    for j, (name, kind, knots) in enumerate(zip(names, kinds, sketch.quantiles(), strict=True)):
        present = x[:, j][~np.isnan(x[:, j])]
        out.append(
            NumericFeature(
                name=name,
                mean=float(present.mean()) if present.size else 0.0,
                std=float(present.std()) if present.size else 0.0,
                missing_rate=1.0 - present.size / n_rows if n_rows else 0.0,
                kind=kind,
                low=float(present.min()) if present.size else None,
                high=float(present.max()) if present.size else None,
                quantiles=knots,
            )
        )
    return tuple(out)
