"""Matryoshka compression: one linear projection whose nested prefixes are each trained to serve,
so a fitted vector can be cut to any of the trained prefix sizes.

After Kusupati et al., "Matryoshka Representation Learning" (NeurIPS 2022): the loss is the
weighted sum over the nested sizes of the loss using only the first ``k`` coordinates. Each
prefix's loss is, by ``objective``, the reconstruction MSE of the input vector (unsupervised,
like PCA), the log loss of a linear head predicting the training rows' labels from the prefix
(the paper's downstream loss), or both summed.
NOTE[PAPER]: the paper trains the encoder itself; here the encoder is a linear projection of
frozen text embeddings, fitted on the training split before the ranker (not jointly with it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from harness.content.compressors._torch import (
    Normaliser,
    TorchCompressorConfig,
    train_model,
)
from harness.content.compressors.base import (
    Compressor,
    CompressorReport,
    Vectors,
    as_vectors,
)

__all__ = ["OBJECTIVES", "MatryoshkaCompressor", "MatryoshkaConfig", "MatryoshkaProjection"]

Objective = Literal["reconstruction", "label", "both"]
OBJECTIVES: tuple[Objective, ...] = ("reconstruction", "label", "both")


class _PrefixHeads(nn.Module):
    """Linear maps ``z[:, :k] -> out`` for each nested size ``k``: the columns ``[:k]`` of one
    shared linear map, or a separate one per size."""

    def __init__(self, sizes: tuple[int, ...], out: int, *, separate: bool) -> None:
        super().__init__()
        self.sizes = sizes
        self.shared = None if separate else nn.Linear(max(sizes), out)
        self.heads = nn.ModuleList([nn.Linear(k, out) for k in sizes] if separate else [])

    def forward(self, z: torch.Tensor, k: int) -> torch.Tensor:
        if self.shared is None:
            return self.heads[self.sizes.index(k)](z[:, :k])  # type: ignore[no-any-return]
        return nn.functional.linear(z[:, :k], self.shared.weight[:, :k], self.shared.bias)


class MatryoshkaProjection(nn.Module):
    """A linear projection ``d -> size`` (no bias: inputs are centred), with per nested prefix
    size a linear decoder back to ``d`` and, given ``tasks``, a linear head to the tasks' logits
    (prefix columns of one shared map, or a separate map per size).

    Shape: ``(B, d) -> (B, size)``; ``decode(z, k)``: ``(B, >= k) -> (B, d)`` and
    ``predict(z, k)``: ``(B, >= k) -> (B, tasks)``, each from ``z[:, :k]``.

    Example:
        >>> m = MatryoshkaProjection(64, (8, 16), separate_heads=False, tasks=1)
        >>> z = m(torch.zeros(2, 64))
        >>> m.decode(z, 8).shape, m.predict(z, 8).shape
        (torch.Size([2, 64]), torch.Size([2, 1]))
    """

    def __init__(
        self, width: int, sizes: tuple[int, ...], *, separate_heads: bool, tasks: int = 0
    ) -> None:
        super().__init__()
        self.sizes = sizes
        self.encoder = nn.Linear(width, max(sizes), bias=False)
        self.decoders = _PrefixHeads(sizes, width, separate=separate_heads)
        self.label_heads = _PrefixHeads(sizes, tasks, separate=separate_heads) if tasks else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # type: ignore[no-any-return]

    def decode(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """The reconstruction from the first ``k`` coordinates of ``z`` (``k`` in ``sizes``)."""
        return self.decoders(z, k)  # type: ignore[no-any-return]

    def predict(self, z: torch.Tensor, k: int) -> torch.Tensor:
        """The tasks' logits from the first ``k`` coordinates of ``z`` (built with ``tasks``)."""
        if self.label_heads is None:
            raise ValueError("this projection was built without label heads (tasks=0)")
        return self.label_heads(z, k)  # type: ignore[no-any-return]


class _Loss:
    """The weighted sum over the nested sizes of each prefix's loss: the reconstruction MSE,
    the labels' log loss, or both."""

    def __init__(self, weights: tuple[float, ...], objective: Objective) -> None:
        self.weights = weights
        self.objective = objective

    def prefix(
        self, model: MatryoshkaProjection, z: torch.Tensor, k: int, x: torch.Tensor,
        y: torch.Tensor | None,
    ) -> torch.Tensor:  # fmt: skip
        """One prefix's loss on a batch (``y`` with a label objective)."""
        terms = []
        if self.objective != "label":
            terms.append(nn.functional.mse_loss(model.decode(z, k), x))
        if self.objective != "reconstruction":
            assert y is not None
            terms.append(nn.functional.binary_cross_entropy_with_logits(model.predict(z, k), y))
        return torch.stack(terms).sum()

    def __call__(
        self, model: MatryoshkaProjection, x: torch.Tensor, y: torch.Tensor | None = None
    ) -> torch.Tensor:
        z = model(x)
        terms = [
            w * self.prefix(model, z, k, x, y)
            for k, w in zip(model.sizes, self.weights, strict=True)
        ]
        return torch.stack(terms).sum()


class MatryoshkaCompressor(Compressor):
    """A fitted Matryoshka projection: ``transform(x, size=k)`` keeps the first ``k`` of its
    ``size`` coordinates, for ``k`` in `sizes`.

    Attributes:
        sizes: the nested prefix sizes it was trained for, ascending (the last is ``size``).
        prefix_train_mse: the training vectors' reconstruction MSE from each prefix, as `sizes`
            (from the decoders trained along); None for the ``label`` objective, which trains
            no decoder.
    """

    def __init__(
        self,
        model: MatryoshkaProjection,
        norm: Normaliser,
        prefix_train_mse: tuple[float, ...] | None,
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
    """A linear projection to ``size`` trained so that every nested prefix serves.

    Attributes:
        prefixes: the nested sizes trained besides ``size``; those above ``size`` are dropped
            (``size`` itself is always trained, with weight 1 unless listed).
        weights: one loss weight per entry of ``prefixes``; empty weighs every size 1.
        separate_heads: a separate linear decoder (and label head) per size instead of the
            prefix columns of one shared map.
        objective: each prefix's loss: ``reconstruction`` (MSE of the vector, unsupervised),
            ``label`` (log loss of a linear head predicting the training rows' labels, which
            must lie in [0, 1]), or ``both`` (their sum).

    Training settings: `TorchCompressorConfig`.
    """

    prefixes: tuple[int, ...] = (384, 128, 64, 32, 16, 8)
    weights: tuple[float, ...] = ()
    separate_heads: bool = False
    objective: Objective = "reconstruction"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.objective not in OBJECTIVES:
            raise ValueError(
                f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}"
            )
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

    @property
    def uses_labels(self) -> bool:
        return self.objective != "reconstruction"

    @property
    def display_name(self) -> str:
        """``matryoshka``, or ``matryoshka-label`` / ``matryoshka-both`` by its objective."""
        return self.kind if self.objective == "reconstruction" else f"{self.kind}-{self.objective}"

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        start = time.perf_counter()
        arr = self._checked(train)
        norm = Normaliser.of(arr)
        x = norm(arr)
        width = arr.shape[1]
        sizes, weights = self.nested()
        separate = self.separate_heads
        tensors: tuple[torch.Tensor, ...] = (x,)
        if self.uses_labels:
            tensors = (x, torch.from_numpy(self._labels(labels, arr.shape[0])))
        tasks = tensors[-1].shape[1] if self.uses_labels else 0
        loss = _Loss(weights, self.objective)
        model = train_model(
            tensors,
            lambda: MatryoshkaProjection(width, sizes, separate_heads=separate, tasks=tasks),
            loss,
            self.settings,
        )
        prefix_mse = None
        if self.objective != "label":
            with torch.no_grad():
                z = model(x)
                prefix_mse = tuple(
                    float(nn.functional.mse_loss(model.decode(z, k), x)) * norm.scale**2
                    for k in sizes
                )
        report = CompressorReport(
            kind=self.kind,
            width=width,
            size=self.size,
            train_rows=arr.shape[0],
            kept_variance=None,
            train_mse=None if prefix_mse is None else prefix_mse[-1],
            seconds=time.perf_counter() - start,
        )
        return MatryoshkaCompressor(model, norm, prefix_mse, report)

    def _labels(self, labels: npt.ArrayLike | None, rows: int) -> npt.NDArray[np.float32]:
        """The training labels as float32 ``(rows, tasks)``, checked for a log loss."""
        if labels is None:
            raise ValueError(f"objective={self.objective!r} needs the training rows' labels")
        y = np.asarray(labels, dtype=np.float32)
        y = y.reshape(-1, 1) if y.ndim == 1 else y
        if y.ndim != 2 or y.shape[0] != rows or y.shape[1] < 1:
            raise ValueError(f"labels must be ({rows}, tasks), got shape {y.shape}")
        if not np.all((y >= 0.0) & (y <= 1.0)):  # NaN fails too
            raise ValueError(
                f"objective={self.objective!r} fits a log loss and needs labels in [0, 1]; "
                "use objective = 'reconstruction' for other labels"
            )
        return np.ascontiguousarray(y)
