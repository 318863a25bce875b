"""The scikit-learn compressors: PCA, truncated SVD and a Gaussian random projection."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.random_projection import GaussianRandomProjection

from harness.content.compressors.base import (
    Compressor,
    CompressorConfig,
    CompressorReport,
    Vectors,
)

__all__ = ["PCAConfig", "RandomProjectionConfig", "SVDConfig", "SklearnCompressor"]


class SklearnCompressor(Compressor):
    """A fitted scikit-learn transformer (``estimator``, kept for inspection)."""

    def __init__(self, estimator: Any, report: CompressorReport) -> None:
        super().__init__(report)
        self.estimator = estimator

    def _encode(self, x: Vectors) -> npt.NDArray[np.floating]:
        return np.asarray(self.estimator.transform(x))


def _report(
    cfg: CompressorConfig,
    train: Vectors,
    estimator: Any,
    start: float,
    *,
    decodes: bool,
) -> CompressorReport:
    ratio = getattr(estimator, "explained_variance_ratio_", None)
    mse = None
    if decodes:
        # Both decoders are linear maps back (components_.T, plus PCA's mean).
        recon = estimator.inverse_transform(estimator.transform(train))
        mse = float(np.mean((recon.astype(np.float64) - train) ** 2))
    return CompressorReport(
        kind=cfg.kind,
        width=train.shape[1],
        size=cfg.size,
        train_rows=train.shape[0],
        kept_variance=None if ratio is None else float(np.sum(ratio)),
        train_mse=mse,
        seconds=time.perf_counter() - start,
    )


@dataclass(frozen=True)
class PCAConfig(CompressorConfig):
    """Projection on the top ``size`` principal directions of the centred training vectors
    (scikit-learn's ``PCA``; ``seed`` matters only to its randomized solver).

    Attributes:
        whiten: scales each component to unit variance on the training vectors.
    """

    whiten: bool = False

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        start = time.perf_counter()
        arr = self._checked(train, min_rows=self.size)
        pca = PCA(n_components=self.size, whiten=self.whiten, random_state=self.seed).fit(arr)
        return SklearnCompressor(pca, _report(self, arr, pca, start, decodes=True))


@dataclass(frozen=True)
class SVDConfig(CompressorConfig):
    """Projection on the top ``size`` right singular vectors of the uncentred training vectors
    (scikit-learn's ``TruncatedSVD``, randomized solver seeded by ``seed``).

    Attributes:
        n_iter: the randomized solver's power iterations.
    """

    n_iter: int = 5

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_iter < 0:
            raise ValueError(f"n_iter must be non-negative, got {self.n_iter!r}")

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        start = time.perf_counter()
        arr = self._checked(train, min_rows=self.size)
        svd = TruncatedSVD(n_components=self.size, n_iter=self.n_iter, random_state=self.seed)
        svd.fit(arr)
        return SklearnCompressor(svd, _report(self, arr, svd, start, decodes=True))


@dataclass(frozen=True)
class RandomProjectionConfig(CompressorConfig):
    """A Gaussian random projection to ``size`` dimensions, drawn from ``seed`` (scikit-learn's
    ``GaussianRandomProjection``): the baseline that learns nothing but the width."""

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        start = time.perf_counter()
        arr = self._checked(train, min_rows=1)
        grp = GaussianRandomProjection(n_components=self.size, random_state=self.seed).fit(arr)
        return SklearnCompressor(grp, _report(self, arr, grp, start, decodes=False))
