"""The synthetic Criteo generator: real format, determinism, and a planted learnable signal."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from harness.data.criteo import CATEGORICAL_COLUMNS, NUMERIC_COLUMNS, read_criteo
from harness.data.synthetic import (
    CHUNK_ROWS,
    synthetic_criteo_truth,
    write_synthetic_criteo,
)
from harness.errors import HarnessError

FIELD = re.compile(r"^$|^-?[0-9]+$")
HASH = re.compile(r"^$|^[0-9a-f]{8}$")


def _auc(label: np.ndarray, score: np.ndarray) -> float:
    """Rank AUC (Mann-Whitney), enough for continuous scores without ties."""
    order = np.argsort(score, kind="stable")
    ranks = np.empty(len(score))
    ranks[order] = np.arange(1, len(score) + 1)
    positives = label == 1
    n_pos, n_neg = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def test_writes_the_raw_criteo_format(tmp_path: Path) -> None:
    path = write_synthetic_criteo(tmp_path / "s.txt", 3000, seed=1)
    lines = path.read_text().split("\n")
    assert lines[-1] == ""  # every line ends in a newline
    lines = lines[:-1]
    assert len(lines) == 3000
    empties_int = empties_cat = negatives = 0
    for line in lines:
        fields = line.split("\t")
        assert len(fields) == 40
        assert fields[0] in ("0", "1")
        assert all(FIELD.match(f) for f in fields[1:14])
        assert all(HASH.match(f) for f in fields[14:])
        empties_int += sum(f == "" for f in fields[1:14])
        empties_cat += sum(f == "" for f in fields[14:])
        negatives += fields[2].startswith("-")
    assert empties_int > 0 and empties_cat > 0 and negatives > 0
    assert any(line.endswith("\t") for line in lines)  # an empty last field stays a field


def test_parses_back_with_the_reader(tmp_path: Path) -> None:
    n = 20_000
    frame = read_criteo(write_synthetic_criteo(tmp_path / "s.txt", n, seed=2)).frame
    assert frame.height == n
    assert 0.2 <= float(frame["label"].mean()) <= 0.3  # type: ignore[arg-type]
    assert int(frame["I2"].min()) < 0  # type: ignore[arg-type]
    cardinalities = [frame[c].n_unique() for c in CATEGORICAL_COLUMNS]
    assert min(cardinalities) <= 5 and max(cardinalities) > 5_000  # tens to thousands
    # Missing rates are field-specific, some fields never missing.
    missing = frame.select(CATEGORICAL_COLUMNS).null_count().row(0)
    assert 0 in missing and max(missing) > 0.5 * n
    assert frame.select(NUMERIC_COLUMNS).null_count().row(0)[0] > 0.3 * n


def test_same_bytes_for_same_arguments(tmp_path: Path) -> None:
    n = CHUNK_ROWS + 123  # crosses a chunk boundary
    a = write_synthetic_criteo(tmp_path / "a.txt", n, seed=5).read_bytes()
    b = write_synthetic_criteo(tmp_path / "b.txt", n, seed=5).read_bytes()
    c = write_synthetic_criteo(tmp_path / "c.txt", n, seed=6).read_bytes()
    assert a == b
    assert a != c
    # A longer file starts with the shorter one: rows depend on their chunk, not on n_rows.
    head = write_synthetic_criteo(tmp_path / "d.txt", 1000, seed=5).read_bytes()
    assert a.startswith(head)


def test_gzip_output_is_deterministic_and_same_text(tmp_path: Path) -> None:
    plain = write_synthetic_criteo(tmp_path / "p.txt", 2000, seed=4).read_bytes()
    gz1 = write_synthetic_criteo(tmp_path / "one.gz", 2000, seed=4, compress=True).read_bytes()
    gz2 = write_synthetic_criteo(tmp_path / "two.gz", 2000, seed=4, compress=True).read_bytes()
    assert gz1 == gz2  # no name or time in the gzip header
    assert gzip.decompress(gz1) == plain
    assert not list(tmp_path.glob(".*partial"))  # written beside, renamed into place


def test_truth_matches_the_file_and_has_signal(tmp_path: Path) -> None:
    n = 40_000
    frame = read_criteo(write_synthetic_criteo(tmp_path / "s.txt", n, seed=0)).frame
    truth = synthetic_criteo_truth(n, seed=0)
    np.testing.assert_array_equal(truth.label, frame["label"].to_numpy())
    assert truth.logit.shape == (n,)
    bayes = _auc(truth.label, truth.probability)
    assert 0.75 < bayes < 0.85  # learnable, far from trivial
    # The interaction carries real signal: without it the ceiling drops.
    assert bayes - _auc(truth.label, truth.logit - truth.interaction) > 0.03


def test_interaction_has_no_main_effect(tmp_path: Path) -> None:
    """Given C17 alone or C23 alone the interaction averages to ~0; given both it does not."""
    n = 60_000
    frame = read_criteo(write_synthetic_criteo(tmp_path / "s.txt", n, seed=0)).frame
    frame = frame.with_columns(term=pl.Series(synthetic_criteo_truth(n, seed=0).interaction))
    for column in ("C17", "C23"):
        means = (
            frame.group_by(column).agg(pl.col("term").mean(), pl.len()).filter(pl.col("len") > 2000)
        )
        assert means.height >= 3
        assert means["term"].abs().max() < 0.05  # type: ignore[operator]
    cells = frame.group_by("C17", "C23").agg(pl.col("term").mean())
    assert cells["term"].std() > 0.3  # type: ignore[operator]


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="n_rows"):
        write_synthetic_criteo(tmp_path / "x.txt", 0)
    with pytest.raises(HarnessError, match="seed"):
        synthetic_criteo_truth(10, seed=-1)
