"""What every compressor shares: its config base (`CompressorConfig`), the fitted object
(`Compressor`) with its report, and the checks of the vectors it is given."""

from __future__ import annotations

import abc
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from harness.registry import PartConfig

__all__ = ["Compressor", "CompressorConfig", "CompressorReport", "Vectors", "as_vectors"]

Vectors = npt.NDArray[np.float32]


def as_vectors(x: npt.ArrayLike, name: str, *, width: int | None = None) -> Vectors:
    """``x`` as a float32 ``(n, d)`` array, after checking it is one.

    Args:
        x: the vectors, one row each.
        name: what ``x`` is, for messages (``"train"``).
        width: the ``d`` it must have (a fitted compressor's input width), or None.

    Raises:
        ValueError: not 2-D, no rows or columns, not real numbers, non-finite values, or another
            width than ``width``.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n, d), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"{name} must have at least one row and one column, got {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    if width is not None and arr.shape[1] != width:
        raise ValueError(f"{name} has {arr.shape[1]} columns, the compressor was fitted on {width}")
    out = np.ascontiguousarray(arr, dtype=np.float32)
    bad = ~np.isfinite(out)
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite values in float32 (first in row {row})"
        )
    return out


@dataclass(frozen=True)
class CompressorReport:
    """What a fit found, for a study's table.

    Attributes:
        kind: the registered name (``"pca"``).
        width: the input width ``d``.
        size: the output width.
        train_rows: how many training vectors it was fitted on.
        kept_variance: the share of the training variance the kept directions explain (PCA's
            and TruncatedSVD's ``explained_variance_ratio_`` summed); None where not defined.
        train_mse: the mean squared error per coordinate of reconstructing the training vectors
            from all ``size`` dimensions; None for a compressor without a decoder.
        seconds: the fit's wall-clock time.
    """

    kind: str
    width: int
    size: int
    train_rows: int
    kept_variance: float | None
    train_mse: float | None
    seconds: float


class Compressor(abc.ABC):
    """A fitted compressor: maps ``(n, width)`` vectors to ``(n, size)`` float32.

    Build one with a config's ``fit`` on the training vectors only; apply it to every split.
    """

    def __init__(self, report: CompressorReport) -> None:
        self.report = report

    @property
    def width(self) -> int:
        """The input width ``d`` it was fitted on."""
        return self.report.width

    @property
    def size(self) -> int:
        """The output width."""
        return self.report.size

    def transform(self, x: npt.ArrayLike) -> Vectors:
        """The compressed vectors, ``(n, width) -> (n, size)`` float32.

        Raises:
            ValueError: ``x`` is not a finite 2-D array of the fitted width.
        """
        out = self._encode(as_vectors(x, "x", width=self.width))
        return np.ascontiguousarray(out, dtype=np.float32)

    @abc.abstractmethod
    def _encode(self, x: Vectors) -> npt.NDArray[np.floating]:
        """``x`` (checked) -> ``(n, size)``."""


@dataclass(frozen=True)
class CompressorConfig(PartConfig):
    """Base of a registered compressor's config (``COMPRESSORS``).

    Attributes:
        size: the output width; at most the input width (checked at fit).
        seed: seeds everything random in the fit (initialisation, batches, projections).
    """

    size: int = 32
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"size must be a positive integer, got {self.size!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")

    @property
    def display_name(self) -> str:
        """What a study's table calls it: the kind, plus any variant it must be told apart by."""
        return self.kind

    @property
    def uses_labels(self) -> bool:
        """Whether `fit` learns from the training rows' labels as well as their vectors."""
        return False

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        """Fits on ``train`` (the training split's vectors, ``(n, d)``) only.

        Args:
            train: the training rows' vectors.
            labels: the same rows' labels ``(n, tasks)``; read only where `uses_labels`.

        Raises:
            ValueError: ``train`` is not a finite 2-D array, or ``size`` exceeds ``d``.
        """
        raise NotImplementedError

    def _checked(self, train: npt.ArrayLike, *, min_rows: int = 2) -> Vectors:
        """``train`` checked for this config: finite ``(n, d)`` with ``size <= d``."""
        arr = as_vectors(train, "train")
        n, d = arr.shape
        if self.size > d:
            raise ValueError(f"{self.kind}: size={self.size} exceeds the vectors' width d={d}")
        if n < min_rows:
            raise ValueError(f"{self.kind}: train has {n} rows, needs at least {min_rows}")
        return arr
