"""Matryoshka compression: one linear projection whose nested prefixes each reconstruct the
vector, so a fitted vector can be cut to any of the trained prefix sizes.

After Kusupati et al., "Matryoshka Representation Learning" (NeurIPS 2022): the loss is the
weighted sum over the nested sizes of the loss using only the first ``k`` coordinates.
NOTE[PAPER]: the paper trains the encoder itself with a downstream (classification) loss per
prefix; here the encoder is a linear projection of frozen text embeddings and each prefix's loss
is the reconstruction MSE of the input vector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from harness.content.compressors._torch import (
    Normaliser,
    TorchCompressorConfig,
    train_reconstruction,
)
from harness.content.compressors.base import (
    Compressor,
    CompressorReport,
    Vectors,
    as_vectors,
)

__all__ = ["MatryoshkaCompressor", "MatryoshkaConfig", "MatryoshkaProjection"]


class MatryoshkaProjection(nn.Module):
    """A linear projection ``d -> size`` (no bias: inputs are centred) and a decoder per nested
    prefix size: the columns ``[:k]`` of one shared linear decoder, or a separate head each.

    Shape: ``(B, d) -> (B, size)``; ``decode(z, k)``: ``(B, >= k) -> (B, d)`` from ``z[:, :k]``.

    Example:
        >>> m = MatryoshkaProjection(64, (8, 16), separate_heads=False)
        >>> m.decode(m(torch.zeros(2, 64)), 8).shape
        torch.Size([2, 64])
    """

    def __init__(self, width: int, sizes: tuple[int, ...], *, separate_heads: bool) -> None:
        super().__init__()
        self.sizes = sizes
        self.encoder = nn.Linear(width, max(sizes), bias=False)
        self.shared = None if separate_heads else nn.Linear(max(sizes), width)
        self.heads = nn.ModuleList([nn.Linear(k, width) for k in sizes] if separate_heads else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # type: ignore[no-any-return]

    def decode(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """The reconstruction from the first ``k`` coordinates of ``z`` (``k`` in ``sizes``)."""
        if self.shared is None:
            return self.heads[self.sizes.index(k)](z[:, :k])  # type: ignore[no-any-return]
        w = self.shared.weight[:, :k]
        return nn.functional.linear(z[:, :k], w, self.shared.bias)


class _Loss:
    """The weighted sum over the nested sizes of each prefix's reconstruction MSE."""

    def __init__(self, weights: tuple[float, ...]) -> None:
        self.weights = weights

    def __call__(self, model: MatryoshkaProjection, batch: torch.Tensor) -> torch.Tensor:
        z = model(batch)
        terms = [
            w * nn.functional.mse_loss(model.decode(z, k), batch)
            for k, w in zip(model.sizes, self.weights, strict=True)
        ]
        return torch.stack(terms).sum()


class MatryoshkaCompressor(Compressor):
    """A fitted Matryoshka projection: ``transform(x, size=k)`` keeps the first ``k`` of its
    ``size`` coordinates, for ``k`` in `sizes`.

    Attributes:
        sizes: the nested prefix sizes it was trained for, ascending (the last is ``size``).
        prefix_train_mse: the training vectors' reconstruction MSE from each prefix, as `sizes`.
    """

    def __init__(
        self,
        model: MatryoshkaProjection,
        norm: Normaliser,
        prefix_train_mse: tuple[float, ...],
        report: CompressorReport,
    ) -> None:
        super().__init__(report)
        self.model = model
        self.norm = norm
        self.sizes = model.sizes
        self.prefix_train_mse = prefix_train_mse

    def transform(self, x: npt.ArrayLike, size: int | None = None) -> Vectors:
        """The first ``size`` coordinates (all by default): ``(n, width) -> (n, size)`` float32.

        Raises:
            ValueError: ``size`` is not one of `sizes`, or ``x`` is not a finite 2-D array of
                the fitted width.
        """
        k = self.size if size is None else size
        if k not in self.sizes:
            raise ValueError(f"size={k!r} is not a trained prefix size; valid: {self.sizes}")
        out = self._encode(as_vectors(x, "x", width=self.width))
        return np.ascontiguousarray(out[:, :k], dtype=np.float32)

    def _encode(self, x: Vectors) -> npt.NDArray[np.floating]:
        with torch.no_grad():
            z: torch.Tensor = self.model(self.norm(x))
            return z.numpy()


@dataclass(frozen=True)
class MatryoshkaConfig(TorchCompressorConfig):
    """A linear projection to ``size`` trained so that every nested prefix reconstructs.

    Attributes:
        prefixes: the nested sizes trained besides ``size``; those above ``size`` are dropped
            (``size`` itself is always trained, with weight 1 unless listed).
        weights: one loss weight per entry of ``prefixes``; empty weighs every size 1.
        separate_heads: a separate linear decoder per size instead of the prefix of one shared
            decoder.

    Training settings: `TorchCompressorConfig`.
    """

    prefixes: tuple[int, ...] = (384, 128, 64, 32, 16, 8)
    weights: tuple[float, ...] = ()
    separate_heads: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if any(isinstance(p, bool) or not isinstance(p, int) or p < 1 for p in self.prefixes):
            raise ValueError(f"prefixes must be positive integers, got {self.prefixes!r}")
        if len(set(self.prefixes)) != len(self.prefixes):
            raise ValueError(f"prefixes must be distinct, got {self.prefixes!r}")
        if self.weights and len(self.weights) != len(self.prefixes):
            raise ValueError(
                f"weights must have one entry per prefix ({len(self.prefixes)}), "
                f"got {len(self.weights)}"
            )
        if any(not w >= 0.0 for w in self.weights):
            raise ValueError(f"weights must be non-negative, got {self.weights!r}")

    def nested(self) -> tuple[tuple[int, ...], tuple[float, ...]]:
        """The trained sizes, ascending and ending at ``size``, and their loss weights."""
        weight = dict(zip(self.prefixes, self.weights or [1.0] * len(self.prefixes), strict=True))
        sizes = tuple(sorted({p for p in self.prefixes if p < self.size} | {self.size}))
        return sizes, tuple(weight.get(k, 1.0) for k in sizes)

    def fit(self, train: npt.ArrayLike) -> Compressor:
        start = time.perf_counter()
        arr = self._checked(train)
        norm = Normaliser.of(arr)
        x = norm(arr)
        width = arr.shape[1]
        sizes, weights = self.nested()
        separate = self.separate_heads
        model = train_reconstruction(
            x,
            lambda: MatryoshkaProjection(width, sizes, separate_heads=separate),
            _Loss(weights),
            self.settings,
        )
        with torch.no_grad():
            z = model(x)
            prefix_mse = tuple(
                float(nn.functional.mse_loss(model.decode(z, k), x)) * norm.scale**2 for k in sizes
            )
        report = CompressorReport(
            kind=self.kind,
            width=width,
            size=self.size,
            train_rows=arr.shape[0],
            kept_variance=None,
            train_mse=prefix_mse[-1],
            seconds=time.perf_counter() - start,
        )
        return MatryoshkaCompressor(model, norm, prefix_mse, report)
