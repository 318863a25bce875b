"""Tiny encoded datasets with a planted signal, for the GBDT family tests."""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)

CARDINALITIES = (12, 300)


def make_planted_dataset(n_train: int = 3000, n_eval: int = 1000, seed: int = 0) -> EncodedDataset:
    """Labels follow ``2*x0 - x1 + effect[cat0] + effect[cat1]``; x2 is noise with 20% NaN."""
    rng = np.random.default_rng(seed)
    effects = [rng.normal(0.0, 1.5, size=c) for c in CARDINALITIES]

    def split(n: int) -> EncodedSplit:
        x_num = rng.normal(size=(n, 3)).astype(np.float32)
        x_num[rng.random(n) < 0.2, 2] = np.nan
        x_cat = np.stack([rng.integers(0, c, size=n) for c in CARDINALITIES], axis=1)
        logit = 2.0 * x_num[:, 0] - x_num[:, 1]
        for j, effect in enumerate(effects):
            logit = logit + effect[x_cat[:, j]]
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return EncodedSplit(x_num=x_num, x_cat=x_cat.astype(np.int32), y=y[:, None])

    schema = FeatureSchema(
        numeric=tuple(NumericFeature(f"n{i}") for i in range(3)),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDINALITIES)),
    )
    return EncodedDataset(
        name="planted",
        schema=schema,
        train=split(n_train),
        valid=split(n_eval),
        test=split(n_eval),
        protocol="random",
        synthetic=True,
    )


@pytest.fixture(scope="session")
def planted() -> EncodedDataset:
    return make_planted_dataset()
