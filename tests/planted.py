"""A tiny encoded dataset with a planted signal, shared by family and tuner tests."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)


def planted_dataset(
    cardinalities: Sequence[int],
    n_train: int,
    n_eval: int,
    seed: int = 0,
    *,
    group_size: int | None = None,
) -> EncodedDataset:
    """A tiny encoded dataset whose labels follow ``2*x0 - x1 + sum_j effect_j[cat_j]``.

    Three numeric features (x2 is noise with 20% NaN) and one categorical feature per
    cardinality, each with random per-value effects: a learnable signal for family and tuner
    tests that do not depend on the data pipeline. With ``group_size``, consecutive rows form
    groups of that size (queries), as a card's ``group`` column gives.
    """
    rng = np.random.default_rng(seed)
    effects = [rng.normal(0.0, 1.5, size=c) for c in cardinalities]

    def split(n: int) -> EncodedSplit:
        x_num = rng.normal(size=(n, 3)).astype(np.float32)
        x_num[rng.random(n) < 0.2, 2] = np.nan
        x_cat = np.stack([rng.integers(0, c, size=n) for c in cardinalities], axis=1)
        logit = 2.0 * x_num[:, 0] - x_num[:, 1]
        for j, effect in enumerate(effects):
            logit = logit + effect[x_cat[:, j]]
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        group = None if group_size is None else (np.arange(n) // group_size).astype(np.uint64)
        return EncodedSplit(x_num=x_num, x_cat=x_cat.astype(np.int32), y=y[:, None], group=group)

    schema = FeatureSchema(
        numeric=tuple(NumericFeature(f"n{i}") for i in range(3)),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(cardinalities)),
    )
    return in_memory_dataset("planted", schema, split, n_train, n_eval)


def in_memory_dataset(
    name: str,
    schema: FeatureSchema,
    split: Callable[[int], EncodedSplit],
    n_train: int,
    n_eval: int,
) -> EncodedDataset:
    """A synthetic dataset whose three splits ``split(n)`` draws (train first, then valid, test)."""
    return EncodedDataset(
        name=name,
        schema=schema,
        train=split(n_train),
        valid=split(n_eval),
        test=split(n_eval),
        protocol="random",
        synthetic=True,
    )
