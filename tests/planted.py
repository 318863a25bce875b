"""A tiny encoded dataset with a planted signal, shared by family and tuner tests."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)
from harness.data.stats import describe_numeric


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
    """A synthetic dataset whose three splits ``split(n)`` draws (train first, then valid, test).

    As data preparation would, the schema's numeric statistics (moments, quantile knots) and the
    per-feature id counts are fitted on the training split (``schema``'s names and kinds kept),
    and ids 2.. are renumbered in order of descending training count (frequency clipping relies
    on that order); the renumbering is one permutation per feature, so the signal is kept.
    """
    train, valid, test = split(n_train), split(n_eval), split(n_eval)
    order = count_order(schema, train)
    train, valid, test = (renumbered(s, order) for s in (train, valid, test))
    return EncodedDataset(
        name=name,
        schema=fitted_schema(schema, train),
        train=train,
        valid=valid,
        test=test,
        protocol="random",
        synthetic=True,
        cat_counts=cat_counts(schema, train),
    )


def fitted_schema(schema: FeatureSchema, train: EncodedSplit) -> FeatureSchema:
    """``schema`` with its numeric features' training statistics computed from ``train``."""
    names = [f.name for f in schema.numeric]
    kinds = [f.kind for f in schema.numeric]
    numeric = describe_numeric(names, np.asarray(train.x_num, dtype=np.float64), kinds)
    return dataclasses.replace(schema, numeric=numeric)


def count_order(schema: FeatureSchema, train: EncodedSplit) -> list[np.ndarray]:
    """Per feature, the new id of each id: 0 and 1 kept, 2.. by descending training count."""
    out = []
    for j, f in enumerate(schema.categorical):
        counts = np.bincount(np.asarray(train.x_cat[:, j], dtype=np.int64), minlength=f.cardinality)
        new = np.arange(f.cardinality, dtype=np.int32)
        new[np.argsort(-counts[2:], kind="stable") + 2] = np.arange(2, f.cardinality)
        out.append(new)
    return out


def renumbered(split: EncodedSplit, order: list[np.ndarray]) -> EncodedSplit:
    if not order:
        return split
    x_cat = np.stack([new[split.x_cat[:, j]] for j, new in enumerate(order)], axis=1)
    return dataclasses.replace(split, x_cat=x_cat.astype(split.x_cat.dtype))


def cat_counts(schema: FeatureSchema, train: EncodedSplit) -> tuple[np.ndarray, ...]:
    """The training count of every id of every categorical feature (index = id)."""
    return tuple(
        np.bincount(np.asarray(train.x_cat[:, j], dtype=np.int64), minlength=f.cardinality)
        for j, f in enumerate(schema.categorical)
    )
