"""A trial's view of the vector features: dropped, as they are, or compressed (`apply_content`).

A compressor is fitted on the training split's vectors (a seeded sample of at most
``ContentConfig.fit_rows``; with their labels for a supervised one, a Matryoshka projection with
a label objective) and applied to every split, one vector feature at a time. Fitting is
deterministic given the config and the trial's seed, so the compressed splits are computed once
and kept in the dataset's cache folder (``<cache>/content/<digest>/``), where every later trial
with the same compressor and seed maps them instead of fitting again: a Matryoshka projection is
fitted once and served at each prefix. Concurrent trials each write a private folder and rename
it into place; the first one wins and the others use it.

The report of each application (`ContentReport`) says what the model saw: the widths, the
compressor's kept variance, how long it took, and the retrieval view: recall@10 of each test
vector's nearest neighbours at full size among its neighbours compressed
(`harness.content.retrieval`, on at most ``RETRIEVAL_ROWS`` test rows).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.content.compressors import Compressor
from harness.content.config import ContentConfig
from harness.content.retrieval import RETRIEVAL_ROWS, recall_at_k
from harness.data.schema import SPLIT_NAMES, EncodedDataset, EncodedSplit, VectorFeature

__all__ = ["CONTENT_DIR", "ContentReport", "apply_content", "content_digest"]

# The folder of a dataset cache that keeps compressed vectors.
CONTENT_DIR = "content"
_REPORT = "report.json"
_FORMAT = 1


@dataclass(frozen=True)
class ContentReport:
    """What a trial's model saw of the vector features.

    Attributes:
        used: False when the trial dropped them (``content.use = false``).
        compressor: the compressor's kind (``none`` for the vectors as they are), with its
            variant where it has one (``matryoshka-label``: `CompressorConfig.display_name`).
        width: the vector features' full width (summed over features).
        size: the width the model saw (summed; 0 when dropped).
        kept_variance: the training variance the compressor's directions keep (PCA, SVD; mean
            over features), or None.
        recall_at_10: the retrieval view (mean over features; 1.0 for the full vectors), or
            None when dropped.
        fit_seconds: the compressor's fitting and transforming time (0 when reused).
        reused: the compressed vectors came from the dataset cache.
    """

    used: bool
    compressor: str
    width: int
    size: int
    kept_variance: float | None = None
    recall_at_10: float | None = None
    fit_seconds: float = 0.0
    reused: bool = False

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ContentReport | None:
        """The report in ``text`` ("" or "null": None)."""
        raw: dict[str, Any] | None = json.loads(text) if text else None
        return None if raw is None else cls(**raw)


def content_digest(config: ContentConfig, seed: int, vector: VectorFeature) -> str:
    """The key of one vector feature compressed by ``config`` with the trial's ``seed``.

    A Matryoshka projection's key leaves out the served size: one fit serves every prefix.
    """
    fitted = config.fitted
    payload = {
        "format": _FORMAT,
        "kind": fitted.kind,
        "compressor": dataclasses.asdict(fitted),
        "seed": seed,
        "fit_rows": config.fit_rows,
        "vector": dataclasses.asdict(vector),
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def apply_content(
    config: ContentConfig, data: EncodedDataset, *, seed: int = 0
) -> tuple[EncodedDataset, ContentReport | None]:
    """``data`` as the trial's model sees it, and a report (None: no vector features, none used).

    Args:
        config: the trial's ``content`` table.
        data: the dataset, its vectors at full size (memory-mapped or in memory).
        seed: the trial's seed, added to the compressor's own (random projections and
            autoencoders differ per seed, like the model's initialisation).

    Raises:
        ValueError: the config cannot apply to the data (`ContentConfig.check`).
    """
    config.check(data.schema)
    vectors = data.schema.vectors
    if not vectors:
        return data, None
    width = data.schema.vector_width
    if not config.use:
        dropped = _with_vectors(data, (), {name: None for name in SPLIT_NAMES})
        return dropped, ContentReport(
            used=False, compressor=config.compressor.display_name, width=width, size=0
        )
    if not config.compresses:
        return data, ContentReport(
            used=True,
            compressor=config.compressor.display_name,
            width=width,
            size=width,
            recall_at_10=1.0,
        )
    started = time.perf_counter()
    columns: dict[str, list[np.ndarray]] = {name: [] for name in SPLIT_NAMES}
    served: list[VectorFeature] = []
    variances: list[float] = []
    recalls: list[float] = []
    reused = True
    for vector, part in zip(vectors, data.schema.vector_slices(), strict=True):
        arrays, report, was_cached = _compressed(config, data, seed, vector, part)
        reused = reused and was_cached
        size = config.served or arrays["train"].shape[1]
        for name in SPLIT_NAMES:
            columns[name].append(arrays[name][:, :size])
        served.append(
            VectorFeature(
                name=vector.name,
                width=size,
                source=vector.source,
                model=f"{vector.model} -> {config.compressor.display_name} {size}",
            )
        )
        if report.get("kept_variance") is not None:
            variances.append(float(report["kept_variance"]))
        recalls.append(_recall(data.test, part, arrays["test"][:, :size]))
    x_vec = {
        name: cols[0] if len(cols) == 1 else np.concatenate(cols, axis=1)
        for name, cols in columns.items()
    }
    out = _with_vectors(data, tuple(served), x_vec)
    return out, ContentReport(
        used=True,
        compressor=config.compressor.display_name,
        width=width,
        size=sum(v.width for v in served),
        kept_variance=float(np.mean(variances)) if variances else None,
        recall_at_10=float(np.mean(recalls)),
        fit_seconds=0.0 if reused else time.perf_counter() - started,
        reused=reused,
    )


def _compressed(
    config: ContentConfig, data: EncodedDataset, seed: int, vector: VectorFeature, part: slice
) -> tuple[dict[str, np.ndarray], dict[str, Any], bool]:
    """Every split of one vector feature compressed (at the fitted size), its fit's report, and
    whether they came from the cache."""
    digest = content_digest(config, seed, vector)
    folder = None if data.cache_dir is None else Path(data.cache_dir) / CONTENT_DIR / digest
    if folder is not None and (folder / _REPORT).exists():
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in SPLIT_NAMES}
        report: dict[str, Any] = json.loads((folder / _REPORT).read_text())
        return arrays, report, True
    fitted = dataclasses.replace(config.fitted, seed=config.fitted.seed + seed)
    rows = _fit_rows(data.train, config.fit_rows, seed)
    assert data.train.x_vec is not None
    train = np.asarray(data.train.x_vec[rows, part], dtype=np.float32)
    labels = np.asarray(data.train.y[rows], dtype=np.float32) if fitted.uses_labels else None
    try:
        compressor = fitted.fit(train, labels)
    except ValueError as e:
        raise ValueError(f"content.compressor ({fitted.kind}) on {vector.name!r}: {e}") from None
    arrays = {name: _transform(compressor, data.split(name), part) for name in SPLIT_NAMES}
    report = dataclasses.asdict(compressor.report)
    if folder is not None:
        _keep(folder, arrays, report)
    return arrays, report, False


def _fit_rows(split: EncodedSplit, rows: int, seed: int) -> slice | np.ndarray:
    """The training rows a compressor is fitted on: all, or a seeded sample in row order."""
    n = split.n_rows
    if n <= rows:
        return slice(None)
    return np.sort(np.random.default_rng(seed).choice(n, size=rows, replace=False))


def _transform(compressor: Compressor, split: EncodedSplit, part: slice) -> np.ndarray:
    """The split's vectors compressed, in chunks (a memory-mapped split is read once)."""
    assert split.x_vec is not None
    chunk = 1 << 16
    out = np.empty((split.n_rows, compressor.size), dtype=np.float32)
    for start in range(0, split.n_rows, chunk):
        stop = min(start + chunk, split.n_rows)
        out[start:stop] = compressor.transform(split.x_vec[start:stop, part])
    return out


def _keep(folder: Path, arrays: dict[str, np.ndarray], report: dict[str, Any]) -> None:
    """Writes the compressed splits into a private folder and renames it to ``folder``; when
    another trial got there first, its folder stays and ours is removed."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        for name, array in arrays.items():
            np.save(work / f"{name}.npy", array)
        (work / _REPORT).write_text(json.dumps(report, sort_keys=True) + "\n")
        os.rename(work, folder)
    except OSError:
        # Another trial renamed its folder first (or the cache is read-only): ours is not
        # needed, and the arrays in memory serve this trial.
        shutil.rmtree(work, ignore_errors=True)


def _recall(test: EncodedSplit, part: slice, compressed: np.ndarray) -> float:
    """recall@10 of test vectors' full-size neighbours among their compressed ones (the same
    sample of test rows for every trial, so that arms compare on the same queries)."""
    assert test.x_vec is not None
    n = test.n_rows
    if n < 12:
        return float("nan")
    rows = np.arange(n)
    if n > RETRIEVAL_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(n, size=RETRIEVAL_ROWS, replace=False))
    full = np.asarray(test.x_vec[rows, part], dtype=np.float32)
    return recall_at_k(full, np.asarray(compressed[rows]), k=10)


def _with_vectors(
    data: EncodedDataset,
    vectors: tuple[VectorFeature, ...],
    x_vec: Mapping[str, np.ndarray | None],
) -> EncodedDataset:
    schema = dataclasses.replace(data.schema, vectors=vectors)

    def split(name: str) -> EncodedSplit:
        return dataclasses.replace(data.split(name), x_vec=x_vec[name])

    return dataclasses.replace(
        data, schema=schema, train=split("train"), valid=split("valid"), test=split("test")
    )
