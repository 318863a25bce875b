"""The typed feature schema and encoded splits that every model reads.

Encoded layout (fixed across datasets):
- ``x_num``: float32 ``[N, n_num]``, raw numeric values, NaN where missing. Each numeric encoding
  decides what to do with NaN (the missing mask is ``isnan(x_num)``).
- ``x_cat``: int32 ``[N, n_cat]``, ids contiguous per feature in ``[0, cardinality)``;
  ``MISSING_ID`` (0) for a missing value, ``RARE_ID`` (1) for a value below the minimum count in
  the training split or unseen there, vocabulary values from 2 on.
- ``y``: float32 ``[N, n_tasks]``, 0/1, one column per task (the first ranks the models).
- ``x_vec``: float32 ``[N, sum of widths]``, the dense vector features side by side (each a
  fixed-length float vector per row: a text column's sentence embedding, or a vector column), in
  ``FeatureSchema.vectors`` order; None when the dataset has none.
- ``group``: uint64 ``[N]`` group keys (queries, users) where the dataset has a group column,
  for per-group metrics (GAUC, NDCG@10) and ranking objectives; None otherwise.

Arrays may be memory-mapped ``np.memmap``/``np.load(mmap_mode="r")`` views on a cache on disk.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "MISSING_ID",
    "RARE_ID",
    "SPLIT_NAMES",
    "CategoricalFeature",
    "EncodedDataset",
    "EncodedSplit",
    "FeatureSchema",
    "NumericFeature",
    "VectorFeature",
]

MISSING_ID = 0
RARE_ID = 1
SPLIT_NAMES = ("train", "valid", "test")


@dataclass(frozen=True)
class NumericFeature:
    """A numeric column and its training-split statistics, fitted once when the data is prepared.

    Attributes:
        name: the column.
        kind: ``int`` or ``float`` as the card reads it.
        mean, std: of the present training values (population standard deviation).
        missing_rate: share of training rows where the value is missing.
        low, high: smallest and largest training value (None when none is present).
        quantiles: knots of the training distribution at evenly spaced levels 0 .. 1 (see
            `harness.data.stats`); () when no value is present.
    """

    name: str
    mean: float = 0.0
    std: float = 1.0
    missing_rate: float = 0.0
    kind: str = "float"
    low: float | None = None
    high: float | None = None
    quantiles: tuple[float, ...] = ()


@dataclass(frozen=True)
class CategoricalFeature:
    """A categorical column encoded to ids ``[0, cardinality)`` (0 missing, 1 rare, 2.. vocab).

    ``kind`` is how the raw values were read (``hex``, ``int``, ``string``, ``derived``).
    """

    name: str
    cardinality: int
    kind: str = "hex"

    def __post_init__(self) -> None:
        if self.cardinality < 2:
            raise ValueError(
                f"{self.name}: cardinality counts the missing and rare ids, got {self.cardinality=}"
            )


@dataclass(frozen=True)
class VectorFeature:
    """A dense vector feature: ``width`` columns of ``x_vec``, after the previous features'.

    Attributes:
        name: the feature (the card's text or vector column).
        width: its length.
        source: ``text`` (a text column encoded by ``model``) or ``column`` (read as a vector).
        model: the text encoder that made it (a local model folder or the packaged model's
            name); "" for a vector column.
    """

    name: str
    width: int
    source: str = "text"
    model: str = ""

    def __post_init__(self) -> None:
        if self.width < 1:
            raise ValueError(f"{self.name}: a vector feature needs a width >= 1, got {self.width}")


@dataclass(frozen=True)
class FeatureSchema:
    """What a model needs to know about its inputs: names, statistics, cardinalities, tasks.

    ``labels`` names the tasks (columns of ``y``); ``query_group`` the card's group column;
    ``vectors`` the dense vector features (``x_vec``'s columns, in order).
    """

    numeric: tuple[NumericFeature, ...]
    categorical: tuple[CategoricalFeature, ...]
    labels: tuple[str, ...] = ("label",)
    query_group: str | None = None
    vectors: tuple[VectorFeature, ...] = ()

    @property
    def n_num(self) -> int:
        return len(self.numeric)

    @property
    def n_cat(self) -> int:
        return len(self.categorical)

    @property
    def cardinalities(self) -> tuple[int, ...]:
        return tuple(f.cardinality for f in self.categorical)

    @property
    def vector_width(self) -> int:
        """Columns of ``x_vec``: every vector feature's width added up (0 without any)."""
        return sum(v.width for v in self.vectors)

    def vector_slices(self) -> tuple[slice, ...]:
        """Each vector feature's columns of ``x_vec``, in order."""
        out, start = [], 0
        for v in self.vectors:
            out.append(slice(start, start + v.width))
            start += v.width
        return tuple(out)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> FeatureSchema:
        raw: dict[str, Any] = json.loads(text)
        numeric = tuple(
            NumericFeature(**{**f, "quantiles": tuple(f.get("quantiles", ()))})
            for f in raw["numeric"]
        )
        return cls(
            numeric=numeric,
            categorical=tuple(CategoricalFeature(**f) for f in raw["categorical"]),
            labels=tuple(raw["labels"]),
            query_group=raw.get("query_group"),
            vectors=tuple(VectorFeature(**v) for v in raw.get("vectors", ())),
        )


@dataclass(frozen=True)
class EncodedSplit:
    """One split's encoded arrays (in memory or memory-mapped); ``group`` only when grouped,
    ``x_vec`` only with vector features."""

    x_num: np.ndarray
    x_cat: np.ndarray
    y: np.ndarray
    group: np.ndarray | None = None
    x_vec: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = self.y.shape[0]
        if self.x_num.shape[0] != n or self.x_cat.shape[0] != n:
            raise ValueError(
                f"rows differ: x_num {self.x_num.shape}, x_cat {self.x_cat.shape}, y {self.y.shape}"
            )
        if self.group is not None and self.group.shape[0] != n:
            raise ValueError(f"rows differ: group {self.group.shape}, y {self.y.shape}")
        if self.x_vec is not None and (self.x_vec.ndim != 2 or self.x_vec.shape[0] != n):
            raise ValueError(f"rows differ: x_vec {self.x_vec.shape}, y {self.y.shape}")

    @property
    def n_rows(self) -> int:
        return int(self.y.shape[0])


@dataclass(frozen=True)
class EncodedDataset:
    """A dataset ready for every model: schema, three splits, and where it came from."""

    name: str
    schema: FeatureSchema
    train: EncodedSplit
    valid: EncodedSplit
    test: EncodedSplit
    protocol: str
    synthetic: bool = False
    source: str = ""
    # Rows dropped by ``--bad-rows skip`` while reading the raw file (0 when none or when erroring).
    skipped_rows: int = 0
    # The cache folder the arrays are memory-mapped from, so a worker process can map them itself
    # instead of receiving a copy; None for a dataset built in memory.
    cache_dir: str | None = None
    # Per-feature training counts of each id (index = id), for frequency-based remedies.
    cat_counts: tuple[np.ndarray, ...] = field(default=(), compare=False)

    def split(self, name: str) -> EncodedSplit:
        if name not in SPLIT_NAMES:
            raise ValueError(f"unknown split {name!r}; valid: {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)  # type: ignore[no-any-return]

    @property
    def title(self) -> str:
        """The name shown to people; a synthetic dataset says so."""
        return f"{self.name} (synthetic)" if self.synthetic else self.name
