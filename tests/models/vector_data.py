"""Tiny encoded datasets with dense vector features (``x_vec``), for model and family tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
    VectorFeature,
)
from tests.planted import in_memory_dataset

WIDTHS = (24, 8)


def vector_schema(
    widths: Sequence[int] = WIDTHS, cardinalities: Sequence[int] = (30, 30, 30, 30)
) -> FeatureSchema:
    """Three numeric features, one categorical feature per cardinality, vectors ``v0, v1, ...``."""
    return FeatureSchema(
        numeric=tuple(NumericFeature(f"n{i}") for i in range(3)),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(cardinalities)),
        vectors=tuple(VectorFeature(f"v{k}", w, model="test") for k, w in enumerate(widths)),
    )


def vector_dataset(
    n_train: int,
    n_eval: int,
    *,
    widths: Sequence[int] = WIDTHS,
    cardinalities: Sequence[int] = (30, 30, 30, 30),
    strength: float = 3.0,
    seed: int = 0,
) -> EncodedDataset:
    """A dataset whose labels follow one random direction of ``x_vec`` and nothing else.

    Every vector feature's rows are unit vectors (as a sentence encoder gives them); the logit
    is ``strength * sqrt(W) * <x_vec, u>`` for a random unit direction ``u`` across all ``W``
    columns (so about ``strength * N(0, 1)`` per row). The numeric values and categorical ids
    are pure noise, drawn independently of the labels.
    """
    rng = np.random.default_rng(seed)
    width = sum(widths)
    direction = rng.normal(size=width)
    direction /= np.linalg.norm(direction)

    def split(n: int) -> EncodedSplit:
        parts = []
        for w in widths:
            v = rng.normal(size=(n, w))
            parts.append(v / np.linalg.norm(v, axis=1, keepdims=True))
        x_vec = np.hstack(parts).astype(np.float32)
        logit = strength * np.sqrt(width / len(widths)) * (x_vec @ direction)
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        x_num = rng.normal(size=(n, 3)).astype(np.float32)
        x_num[rng.random(n) < 0.2, 2] = np.nan
        x_cat = np.stack([rng.integers(2, c, size=n) for c in cardinalities], axis=1)
        return EncodedSplit(x_num=x_num, x_cat=x_cat.astype(np.int32), y=y[:, None], x_vec=x_vec)

    schema = vector_schema(widths, cardinalities)
    return in_memory_dataset("planted-vectors", schema, split, n_train, n_eval)


def shuffled_vectors(data: EncodedDataset) -> EncodedDataset:
    """``data`` with each split's vectors shuffled across its rows: the control in which the
    vectors carry no signal about their rows' labels."""
    rng = np.random.default_rng(9)

    def cut(split: EncodedSplit) -> EncodedSplit:
        assert split.x_vec is not None
        return replace(split, x_vec=split.x_vec[rng.permutation(split.n_rows)])

    return replace(data, train=cut(data.train), valid=cut(data.valid), test=cut(data.test))
