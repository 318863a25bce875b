"""A tiny encoded dataset with a planted signal and a small LightGBM space, for tuner tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)
from harness.tuning.space import SearchSpace, load_search_space

CARDINALITIES = (8, 40)

SMALL_LIGHTGBM = """
family = "lightgbm"
[search]
learning_rate = { float = [0.05, 0.3], log = true }
num_leaves = { int = [4, 31] }
categorical = { choice = ["numeric", "native"] }
[fixed]
n_estimators = 120
early_stopping_rounds = 15
rounds_per_epoch = 20
"""


def planted_dataset(n_train: int = 1500, n_eval: int = 500, seed: int = 0) -> EncodedDataset:
    """Labels follow ``2*x0 - x1 + effect[cat0]``; x2 is noise with 20% NaN."""
    rng = np.random.default_rng(seed)
    effect = rng.normal(0.0, 1.5, size=CARDINALITIES[0])

    def split(n: int) -> EncodedSplit:
        x_num = rng.normal(size=(n, 3)).astype(np.float32)
        x_num[rng.random(n) < 0.2, 2] = np.nan
        x_cat = np.stack([rng.integers(0, c, size=n) for c in CARDINALITIES], axis=1)
        logit = 2.0 * x_num[:, 0] - x_num[:, 1] + effect[x_cat[:, 0]]
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return EncodedSplit(x_num=x_num, x_cat=x_cat.astype(np.int32), y=y[:, None])

    return EncodedDataset(
        name="planted",
        schema=FeatureSchema(
            numeric=tuple(NumericFeature(f"n{i}") for i in range(3)),
            categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDINALITIES)),
        ),
        train=split(n_train),
        valid=split(n_eval),
        test=split(n_eval),
        protocol="random",
        synthetic=True,
    )


@pytest.fixture(scope="session")
def planted() -> EncodedDataset:
    return planted_dataset()


@pytest.fixture
def lightgbm_space(tmp_path: Path) -> SearchSpace:
    path = tmp_path / "lightgbm.toml"
    path.write_text(SMALL_LIGHTGBM)
    return load_search_space(path, family="lightgbm")
