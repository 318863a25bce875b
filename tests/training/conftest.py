"""Small synthetic ``EncodedDataset``s built in memory (no dependence on the data pipeline)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)

N_NUM, CARDS = 3, (8, 8, 5)


def planted_split(rows: int, seed: int, *, flip: bool = False) -> EncodedSplit:
    """Label = parity(x_cat[:, 0]) XOR parity(x_cat[:, 1]): no single feature predicts it."""
    rng = np.random.default_rng(seed)
    x_cat = np.stack([rng.integers(0, c, size=rows) for c in CARDS], axis=1).astype(np.int32)
    x_num = rng.normal(size=(rows, N_NUM)).astype(np.float32)
    x_num[rng.random(x_num.shape) < 0.1] = np.nan
    y = ((x_cat[:, 0] % 2) ^ (x_cat[:, 1] % 2)).astype(np.float32)
    if flip:
        y = 1.0 - y
    return EncodedSplit(x_num=x_num, x_cat=x_cat, y=y.reshape(-1, 1))


def schema() -> FeatureSchema:
    return FeatureSchema(
        numeric=tuple(NumericFeature(f"n{i}") for i in range(N_NUM)),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDS)),
    )


def planted_dataset(rows: int = 2048, *, flip_valid: bool = False) -> EncodedDataset:
    valid = planted_split(rows // 4, seed=2, flip=flip_valid)
    return EncodedDataset(
        name="planted",
        schema=schema(),
        train=planted_split(rows, seed=1),
        valid=valid,
        # Test = valid, so that a test score equal to an epoch's valid score shows which weights
        # were restored.
        test=valid,
        protocol="random",
        synthetic=True,
    )


@pytest.fixture
def make_dataset() -> Callable[..., EncodedDataset]:
    return planted_dataset
