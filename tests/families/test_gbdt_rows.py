"""Which training rows a GBDT fits on: all, a configured sample, or what fits in memory."""

from __future__ import annotations

import os

import numpy as np

from harness.data.schema import EncodedDataset
from harness.families._gbdt import MemoryModel, training_rows
from harness.fitting import TrainContext

MODEL = MemoryModel(per_row=1000, base=10_000)


def test_all_rows_when_they_fit(planted: EncodedDataset) -> None:
    train, notes = training_rows("X", planted, None, TrainContext(), MODEL, available=10**12)
    assert train is planted.train and notes == []


def test_configured_sample_is_seeded_and_in_order(planted: EncodedDataset) -> None:
    a, notes = training_rows("X", planted, 500, TrainContext(seed=3), MODEL, available=10**12)
    b, _ = training_rows("X", planted, 500, TrainContext(seed=3), MODEL, available=10**12)
    assert a.n_rows == 500 and notes == [
        f"trained on a seeded sample of 500 of {3000} training rows"
    ]
    np.testing.assert_array_equal(a.x_cat, b.x_cat)
    # Rows keep their file order: the sample is a subsequence of the split.
    rows = {tuple(r) for r in planted.train.x_cat.tolist()}
    assert all(tuple(r) in rows for r in a.x_cat.tolist())


def test_memory_bound_samples_and_says_why(planted: EncodedDataset) -> None:
    threads = 1
    # One CPU of os.cpu_count(): the trial plans with 0.6 * available / cpus.
    cpus = os.cpu_count() or 1
    available = int((10_000 + 1000 * 800) / 0.6 * cpus) + 1
    train, notes = training_rows(
        "LightGBM", planted, None, TrainContext(threads=threads), MODEL, available=available
    )
    assert train.n_rows == 800
    assert notes[0] == "trained on a seeded sample of 800 of 3000 training rows"
    assert "LightGBM would need about" in notes[1] and "max_train_rows" in notes[1]


def test_other_device_is_noted(planted: EncodedDataset) -> None:
    ctx = TrainContext(device="cuda")
    _, notes = training_rows("CatBoost", planted, None, ctx, MODEL, available=10**12)
    assert notes == ["CatBoost trained on cpu (device=cuda ignored)"]
