"""Numeric statistics fitted on the training rows: exact integer moments (also beyond 32 bits),
float moments, missing rates, quantile knots, and their independence of the block size."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from harness.data.card import DatasetCard, parse_card
from harness.data.preprocess import PreprocessConfig, prepare_dataset
from harness.data.schema import FeatureSchema, NumericFeature
from harness.data.stats import QUANTILES, SAMPLE_ROWS, BlockMoments, Moments, sample_mask

MIB = 1 << 20


def _card(fmt: str = "parquet", **numeric: list[str]) -> DatasetCard:
    return parse_card(
        {
            "name": "t",
            "format": fmt,
            "files": [f"m.{fmt}"],
            "tasks": {"y": {"column": "y"}},
            "numeric": numeric,
            "categorical": {"int": ["c"]},
        },
        path="t.toml",
    )


def _frame(n: int, **columns: Any) -> pl.DataFrame:
    return pl.DataFrame({"y": [i % 2 for i in range(n)], "c": [i % 3 for i in range(n)], **columns})


def _schema(
    card: DatasetCard,
    path: Path,
    cache: Path,
    *,
    block_bytes: int = MIB,
    protocol: str = "sequential",
) -> FeatureSchema:
    config = PreprocessConfig(protocol=protocol, block_bytes=block_bytes)
    return prepare_dataset(card, path, config, cache_root=cache, progress=False).schema


def _feature(schema: FeatureSchema, name: str) -> NumericFeature:
    return next(f for f in schema.numeric if f.name == name)


def _exact(values: list[int]) -> tuple[float, float]:
    """Mean and population std from exact integer sums (the documented formula)."""
    n, s1, s2 = len(values), sum(values), sum(v * v for v in values)
    return s1 / n, math.sqrt((n * s2 - s1 * s1) / n**2)


# --- integer moments -------------------------------------------------------------------------


def test_integer_moments_are_exact_and_match_numpy(tmp_path: Path) -> None:
    n = 500
    rng = np.random.default_rng(0)
    small = rng.integers(-1000, 1000, n)
    wide = rng.integers(-(2**45), 2**45, n)  # beyond 32 bits: the Int128 path
    narrow = rng.integers(-(2**31), 2**31 - 1, n)
    path = tmp_path / "m.parquet"
    _frame(n, small=small, wide=wide, narrow=narrow).write_parquet(path)
    card = _card(int=["small", "wide"], int32=["narrow"])
    schema = _schema(card, path, tmp_path / "c")
    train = slice(0, 400)  # sequential 80/10/10
    for name, values in (("small", small), ("wide", wide), ("narrow", narrow)):
        feature = _feature(schema, name)
        mean, std = _exact([int(v) for v in values[train]])
        assert (feature.mean, feature.std) == (mean, std), name
        assert feature.mean == pytest.approx(float(np.mean(values[train])), rel=1e-12)
        assert feature.std == pytest.approx(float(np.std(values[train])), rel=1e-12)
        assert (feature.low, feature.high) == (
            float(values[train].min()),
            float(values[train].max()),
        )
        assert feature.kind == "int" and feature.missing_rate == 0.0


def test_wide_integers_keep_a_small_spread_exactly(tmp_path: Path) -> None:
    # 2^40 + {0, 1, 2}: float sums of squares would lose the spread entirely.
    n = 30
    values = [2**40 + i % 3 for i in range(n)]
    path = tmp_path / "m.parquet"
    _frame(n, a=values).write_parquet(path)
    feature = _feature(_schema(_card(int=["a"]), path, tmp_path / "c"), "a")
    assert feature.mean == 2**40 + 1.0
    assert feature.std == math.sqrt(2 / 3)
    assert (feature.low, feature.high) == (2.0**40, 2.0**40 + 2)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_integer_statistics_do_not_depend_on_the_block_size(tmp_path: Path, fmt: str) -> None:
    n = 120
    rng = np.random.default_rng(1)
    a = rng.integers(-(2**40), 2**40, n).tolist()
    b = [None if i % 7 == 0 else int(v) for i, v in enumerate(rng.integers(0, 50, n))]
    frame = _frame(n, a=a, b=b)
    path = tmp_path / f"m.{fmt}"
    if fmt == "csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    card = _card(fmt, int=["a", "b"])
    tiny = _schema(card, path, tmp_path / "tiny", block_bytes=64)  # 2 or 3 rows a block
    small = _schema(card, path, tmp_path / "small", block_bytes=700)
    large = _schema(card, path, tmp_path / "large", block_bytes=MIB)
    assert tiny == small == large
    assert _feature(large, "b").missing_rate == pytest.approx(sum(v is None for v in b[:96]) / 96)


# --- float moments, missing values ---------------------------------------------------------


def test_float_moments_are_close_to_numpy(tmp_path: Path) -> None:
    n = 1000
    values = np.random.default_rng(2).normal(3.0, 2.5, n)
    path = tmp_path / "m.parquet"
    _frame(n, f=values).write_parquet(path)
    feature = _feature(_schema(_card(float=["f"]), path, tmp_path / "c"), "f")
    train = values[:800]
    assert feature.kind == "float"
    assert feature.mean == pytest.approx(float(train.mean()), rel=1e-12)
    assert feature.std == pytest.approx(float(train.std()), rel=1e-9)
    assert (feature.low, feature.high) == (float(train.min()), float(train.max()))


def test_float_moments_do_not_depend_on_the_order_blocks_arrive_in() -> None:
    # A cluster returns shards in the order they finish; float64 sums added in that order
    # differ in the last bits (1e16 + 1 - 1e16 is 0 or 1), and the schema with them.
    blocks = [pl.DataFrame({"f": [v]}) for v in (1e16, 1.0, -1e16, 1.0, 0.1, 0.2)]
    moments = BlockMoments(["f"], ["float"])
    read = [
        moments.read(block.select(moments.exprs).row(0, named=True), block)[0] for block in blocks
    ]
    seen = set()
    for order in itertools.permutations(read):
        total = Moments()
        for block in order:
            total.add(block)
        seen.add((total.mean, total.std, total.low, total.high))
    assert len(seen) == 1
    mean, std, low, high = seen.pop()
    assert mean == float((2 + Fraction(0.1) + Fraction(0.2)) / 6) and (low, high) == (-1e16, 1e16)
    assert std == pytest.approx(float(np.std(np.array([1e16, 1, -1e16, 1, 0.1, 0.2]))), rel=1e-12)


def test_missing_rate_counts_missing_training_rows(tmp_path: Path) -> None:
    n = 100
    # Train rows 0..79: 20 nulls and 4 NaN (a NaN float is missing too).
    f = [None if i % 4 == 0 else (float("nan") if i % 20 == 1 else float(i)) for i in range(n)]
    a = [None if i < 10 else i for i in range(n)]
    path = tmp_path / "m.parquet"
    _frame(n, f=f, a=a, empty=pl.Series([None] * n, dtype=pl.Int64)).write_parquet(path)
    schema = _schema(_card(float=["f"], int=["a", "empty"]), path, tmp_path / "c")
    present = [v for v in f[:80] if v is not None and not math.isnan(v)]
    feature = _feature(schema, "f")
    assert feature.missing_rate == pytest.approx(24 / 80)
    assert feature.mean == pytest.approx(sum(present) / len(present))
    assert feature.quantiles[0] == min(present) and feature.quantiles[-1] == max(present)
    assert _feature(schema, "a").missing_rate == pytest.approx(10 / 80)
    assert _feature(schema, "a").mean == sum(range(10, 80)) / 70
    empty = _feature(schema, "empty")
    assert (empty.missing_rate, empty.low, empty.high, empty.quantiles) == (1.0, None, None, ())


# --- quantile knots ----------------------------------------------------------------------------


def test_quantile_knots_of_a_small_column(tmp_path: Path) -> None:
    n = 1000
    rng = np.random.default_rng(3)
    values = np.round(rng.exponential(10.0, n) * 4) / 4  # float32-exact (quarters)
    path = tmp_path / "m.parquet"
    _frame(n, f=values, i=rng.integers(-50, 50, n)).write_parquet(path)
    schema = _schema(_card(float=["f"], int=["i"]), path, tmp_path / "c")
    levels = np.linspace(0.0, 1.0, QUANTILES)
    for name, column in (("f", values), ("i", None)):
        feature = _feature(schema, name)
        knots = np.array(feature.quantiles)
        assert len(knots) == QUANTILES == 257
        assert (np.diff(knots) >= 0).all()
        assert knots[0] == feature.low and knots[-1] == feature.high
        if column is not None:  # every training row is in the sample
            np.testing.assert_array_equal(knots, np.quantile(column[:800], levels))


def test_quantile_knots_of_a_large_uniform_column_are_evenly_spaced(tmp_path: Path) -> None:
    n = 3 * SAMPLE_ROWS  # larger than the sample: knots from about SAMPLE_ROWS rows
    values = np.random.default_rng(4).random(n)
    path = tmp_path / "m.parquet"
    pl.DataFrame(
        {"y": np.arange(n) % 2, "c": np.zeros(n, dtype=np.int64), "u": values}
    ).write_parquet(path)
    feature = _feature(_schema(_card(float=["u"]), path, tmp_path / "c", protocol="x4"), "u")
    knots = np.array(feature.quantiles)
    assert len(knots) == QUANTILES and (np.diff(knots) >= 0).all()
    np.testing.assert_allclose(knots, np.linspace(0, 1, QUANTILES), atol=0.01)
    assert feature.low is not None and feature.high is not None
    assert feature.low <= knots[0] < 0.001 and 0.999 < knots[-1] <= feature.high


def test_the_sample_does_not_depend_on_how_rows_are_cut() -> None:
    n = 4 * SAMPLE_ROWS
    whole = sample_mask(0, n, n)
    assert abs(int(whole.sum()) - SAMPLE_ROWS) < 0.02 * SAMPLE_ROWS
    cuts = [0, 1, 777, 100_000, 300_001, n]
    pieces = [sample_mask(a, b - a, n) for a, b in itertools.pairwise(cuts)]
    np.testing.assert_array_equal(np.concatenate(pieces), whole)
    assert sample_mask(5, 10, SAMPLE_ROWS).all()  # a small dataset: every row


def test_statistics_come_from_the_training_rows_only(tmp_path: Path) -> None:
    n = 100
    # Sequential: rows 0..79 train; valid and test values are far larger.
    values = [float(i) if i < 80 else 1e6 + i for i in range(n)]
    ints = [i if i < 80 else 2**50 + i for i in range(n)]
    path = tmp_path / "m.parquet"
    _frame(n, f=values, a=ints).write_parquet(path)
    schema = _schema(_card(float=["f"], int=["a"]), path, tmp_path / "c")
    for name in ("f", "a"):
        feature = _feature(schema, name)
        assert feature.quantiles[-1] == 79.0 and feature.high == 79.0
        assert feature.quantiles[0] == 0.0 and feature.low == 0.0
        assert feature.mean == 39.5
        assert feature.std == pytest.approx(float(np.std(np.arange(80))))
