"""An autoencoder's encoder as a compressor: linear, or one hidden layer, trained on MSE."""

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
    train_model,
)
from harness.content.compressors.base import (
    Compressor,
    CompressorReport,
    Vectors,
)

__all__ = ["Autoencoder", "AutoencoderCompressor", "AutoencoderConfig"]


class Autoencoder(nn.Module):
    """Encoder ``d -> size`` and decoder ``size -> d``, linear or with one ReLU hidden layer each.

    Shape: ``(B, d) -> (B, size) -> (B, d)``.

    Example:
        >>> ae = Autoencoder(64, 8, hidden=None)
        >>> ae.encode(torch.zeros(2, 64)).shape
        torch.Size([2, 8])
    """

    def __init__(self, width: int, size: int, *, hidden: int | None) -> None:
        super().__init__()
        self.encoder: nn.Module
        self.decoder: nn.Module
        if hidden is None:
            self.encoder = nn.Linear(width, size)
            self.decoder = nn.Linear(size, width)
        else:
            self.encoder = nn.Sequential(
                nn.Linear(width, hidden), nn.ReLU(), nn.Linear(hidden, size)
            )
            self.decoder = nn.Sequential(
                nn.Linear(size, hidden), nn.ReLU(), nn.Linear(hidden, width)
            )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)  # type: ignore[no-any-return]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The reconstruction of ``x``."""
        return self.decoder(self.encode(x))  # type: ignore[no-any-return]


def _mse(model: Autoencoder, batch: torch.Tensor) -> torch.Tensor:
    return nn.functional.mse_loss(model(batch), batch)


class AutoencoderCompressor(Compressor):
    """A fitted autoencoder; `transform` runs its encoder (``model``, on the CPU)."""

    def __init__(self, model: Autoencoder, norm: Normaliser, report: CompressorReport) -> None:
        super().__init__(report)
        self.model = model
        self.norm = norm

    def _encode(self, x: Vectors) -> npt.NDArray[np.floating]:
        with torch.no_grad():
            return self.model.encode(self.norm(x)).numpy()


@dataclass(frozen=True)
class AutoencoderConfig(TorchCompressorConfig):
    """The encoder of an autoencoder trained with MSE and Adam on the training vectors (centred,
    scaled by one RMS).

    Attributes:
        hidden: the width of one ReLU hidden layer in the encoder and in the decoder; None for
            a linear autoencoder (which learns PCA's subspace, not its axes).

    Training settings: `TorchCompressorConfig`.
    """

    hidden: int | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hidden is not None and self.hidden < 1:
            raise ValueError(f"hidden must be at least 1 or None, got {self.hidden!r}")

    def fit(self, train: npt.ArrayLike, labels: npt.ArrayLike | None = None) -> Compressor:
        start = time.perf_counter()
        arr = self._checked(train)
        norm = Normaliser.of(arr)
        x = norm(arr)
        width, size, hidden = arr.shape[1], self.size, self.hidden
        model = train_model(
            (x,),
            lambda: Autoencoder(width, size, hidden=hidden),
            _mse,
            self.settings,
        )
        with torch.no_grad():
            mse = float(_mse(model, x)) * norm.scale**2
        report = CompressorReport(
            kind=self.kind,
            width=width,
            size=size,
            train_rows=arr.shape[0],
            kept_variance=None,
            train_mse=mse,
            seconds=time.perf_counter() - start,
        )
        return AutoencoderCompressor(model, norm, report)
