"""``FeatureInputs``: what a ranker's parts are built from, fitted on the training split once.

Parts never read raw data to fit themselves: numeric encodings read the statistics the count
pass stored with the schema (moments, minimum, maximum, 257 quantile knots per column),
categorical embeddings read the cardinalities and the training count of every id, vector
features' maps read their widths (nothing is fitted on their values). Only an
option that must see labels (target-aware tree bins) reads ``sample``: a bounded, seeded sample
of training rows, taken once per build. Valid and test rows are never read, so changing them
changes nothing a part fits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.data.hashing import splitmix64
from harness.data.schema import EncodedDataset, NumericFeature, VectorFeature
from harness.data.stats import describe_numeric

__all__ = ["SAMPLE_ROWS", "FeatureInputs", "TrainSample", "train_sample"]

# Rows of the training split a target-aware fit reads at most.
SAMPLE_ROWS = 1 << 16
_SAMPLE_KEY = 0x2545F4914F6CDD1D


@dataclass(frozen=True)
class TrainSample:
    """A seeded sample of training rows: ``x_num`` float ``(n, n_num)``, ``y`` ``(n, tasks)``."""

    x_num: np.ndarray
    y: np.ndarray


def train_sample(x_num: np.ndarray, y: np.ndarray, rows: int = SAMPLE_ROWS) -> TrainSample:
    """At most ``rows`` training rows picked by a hash of their index (all of a small split).

    The rows are read in index order, so a memory-mapped split is read forward once.
    """
    n = int(y.shape[0])
    if n <= rows:
        index = np.arange(n)
    else:
        z = splitmix64(np.arange(n, dtype=np.uint64) ^ np.uint64(_SAMPLE_KEY))
        index = np.sort(np.argpartition(z, rows)[:rows])
    return TrainSample(
        x_num=np.asarray(x_num[index], dtype=np.float32),
        y=np.asarray(y[index], dtype=np.float32).reshape(len(index), -1),
    )


@dataclass(frozen=True)
class FeatureInputs:
    """The schema-derived context every part's ``build`` takes.

    Attributes:
        numeric: per numeric feature, its training statistics (`NumericFeature`).
        cardinalities: ids per categorical feature (missing and rare ids included).
        counts: per categorical feature, the training count of each id (index = id; ids 2..
            in order of descending count); () when unknown (then frequency clipping refuses).
        sample: reads a bounded sample of training rows with labels, for target-aware fits;
            None when there is none (then such options refuse).
        vectors: the dense vector features (names and widths: the columns of ``x_vec``, in
            order); () without any.
    """

    numeric: tuple[NumericFeature, ...]
    cardinalities: tuple[int, ...]
    counts: tuple[np.ndarray, ...] = field(default=(), compare=False)
    sample: Callable[[], TrainSample] | None = field(default=None, compare=False)
    vectors: tuple[VectorFeature, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "numeric", tuple(self.numeric))
        object.__setattr__(self, "cardinalities", tuple(int(c) for c in self.cardinalities))
        object.__setattr__(self, "vectors", tuple(self.vectors))
        if self.counts and len(self.counts) != len(self.cardinalities):
            raise ValueError(
                f"counts for {len(self.counts)} features, {len(self.cardinalities)} cardinalities"
            )

    @property
    def n_num(self) -> int:
        return len(self.numeric)

    @property
    def n_cat(self) -> int:
        return len(self.cardinalities)

    @property
    def vector_widths(self) -> tuple[int, ...]:
        """The width of each vector feature, in ``x_vec`` order."""
        return tuple(v.width for v in self.vectors)

    @property
    def vector_width(self) -> int:
        """Columns of ``x_vec``: the vector features' widths added up (0 without any)."""
        return sum(v.width for v in self.vectors)

    @classmethod
    def of(cls, data: EncodedDataset) -> FeatureInputs:
        """The inputs of a dataset: its schema's statistics and id counts, its training sample."""
        train = data.train

        def sample() -> TrainSample:
            return train_sample(train.x_num, train.y)

        return cls(
            numeric=data.schema.numeric,
            cardinalities=data.schema.cardinalities,
            counts=data.cat_counts,
            sample=sample,
            vectors=data.schema.vectors,
        )

    @classmethod
    def from_arrays(
        cls,
        x_num: np.ndarray,
        cardinalities: Sequence[int] = (),
        *,
        y: np.ndarray | None = None,
        x_cat: np.ndarray | None = None,
        x_vec: np.ndarray | None = None,
        vector_widths: Sequence[int] | None = None,
    ) -> FeatureInputs:
        """Inputs fitted on in-memory training arrays, as preprocessing would fit them.

        Args:
            x_num: training numeric values ``(N, n_num)``, NaN where missing.
            cardinalities: ids per categorical feature.
            y: training labels, for target-aware fits (optional).
            x_cat: training ids ``(N, n_cat)``, to count each id (optional).
            x_vec: training vector features ``(N, width)`` (optional; only its width is read).
            vector_widths: the width of each vector feature (``v0``, ``v1``, ...); without it,
                ``x_vec`` is one vector feature. With both, the widths must add up to
                ``x_vec``'s.
        """
        x_num = np.asarray(x_num)
        if x_num.ndim != 2:
            raise ValueError(f"x_num must be 2-D (N, n_features), got {x_num.shape=}")
        widths = _vector_widths(x_vec, vector_widths)
        vectors = tuple(VectorFeature(f"v{k}", w, source="column") for k, w in enumerate(widths))
        numeric = describe_numeric([f"n{j}" for j in range(x_num.shape[1])], x_num)
        counts: tuple[np.ndarray, ...] = ()
        if x_cat is not None:
            counts = tuple(
                np.bincount(np.asarray(x_cat[:, j], dtype=np.int64), minlength=c).astype(np.int64)
                for j, c in enumerate(cardinalities)
            )
        sampler: Callable[[], TrainSample] | None = None
        if y is not None:
            sampler = functools.partial(train_sample, x_num, np.asarray(y))
        return cls(numeric, tuple(cardinalities), counts, sampler, vectors)


def _vector_widths(x_vec: np.ndarray | None, widths: Sequence[int] | None) -> tuple[int, ...]:
    """`FeatureInputs.from_arrays`'s vector widths, checked against ``x_vec`` when both come."""
    if x_vec is not None and np.ndim(x_vec) != 2:
        raise ValueError(f"x_vec must be 2-D (N, width), got {np.shape(x_vec)=}")
    if widths is None:
        return () if x_vec is None else (int(np.shape(x_vec)[1]),)
    out = tuple(int(w) for w in widths)
    if x_vec is not None and sum(out) != np.shape(x_vec)[1]:
        width = np.shape(x_vec)[1]
        raise ValueError(f"vector_widths {out} add up to {sum(out)}, x_vec has {width} columns")
    return out
