"""The vectors as they are: the full-size arm every compression is measured against."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harness.content.compressors.base import (
    Compressor,
    CompressorConfig,
    CompressorReport,
    Vectors,
    as_vectors,
)

__all__ = ["FullSizeCompressor", "FullSizeConfig"]


class FullSizeCompressor(Compressor):
    """Returns its input unchanged (as float32)."""

    def _encode(self, x: Vectors) -> npt.NDArray[np.floating]:
        return x


@dataclass(frozen=True)
class FullSizeConfig(CompressorConfig):
    """No compression: the output is the input at its full width (``size`` is not read)."""

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        start = time.perf_counter()
        arr = as_vectors(train, "train")
        n, d = arr.shape
        return FullSizeCompressor(
            CompressorReport(
                kind=self.kind,
                width=d,
                size=d,
                train_rows=n,
                kept_variance=1.0,
                train_mse=0.0,
                seconds=time.perf_counter() - start,
            )
        )
