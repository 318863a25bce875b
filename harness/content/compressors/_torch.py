"""The training loop the torch compressors share: seeded, batched Adam on a loss of vectors
centred and scaled by training statistics (and, for a supervised fit, their rows' labels)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import nn

from harness.content.compressors.base import CompressorConfig, Vectors

__all__ = ["Normaliser", "TorchCompressorConfig", "TorchSettings", "train_model"]

M = TypeVar("M", bound=nn.Module)


@dataclass(frozen=True)
class Normaliser:
    """Centres by the training mean and divides by one training RMS: the loss and the learning
    rate then mean the same on any encoder's scale, and a linear map stays linear."""

    mean: Vectors
    scale: float

    @classmethod
    def of(cls, train: Vectors) -> Normaliser:
        mean = train.mean(axis=0, dtype=np.float64)
        rms = float(np.sqrt(np.mean((train - mean) ** 2)))
        return cls(mean=mean.astype(np.float32), scale=rms if rms > 0.0 else 1.0)

    def __call__(self, x: Vectors) -> torch.Tensor:
        return torch.from_numpy((x - self.mean) / np.float32(self.scale))


@dataclass(frozen=True)
class TorchSettings:
    """How a torch compressor trains (what `train_model` reads of its config)."""

    epochs: int
    batch_size: int
    learning_rate: float
    seed: int
    threads: int | None
    device: str


@dataclass(frozen=True)
class TorchCompressorConfig(CompressorConfig):
    """The training settings every torch compressor shares.

    Attributes:
        epochs: passes over the training vectors; the default keeps a ``(5000, 64)`` fit well
            under 2 s on one CPU core.
        batch_size: vectors per Adam step.
        learning_rate: Adam's learning rate.
        threads: torch's intra-op threads during the fit (restored after); None keeps the
            process's setting.
        device: where it trains (``"cpu"``; a GPU is not bit-for-bit deterministic).
    """

    epochs: int = 20
    batch_size: int = 256
    learning_rate: float = 1e-2
    threads: int | None = None
    device: str = "cpu"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size!r}")
        if not self.learning_rate > 0.0:
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be at least 1 or None, got {self.threads!r}")

    @property
    def settings(self) -> TorchSettings:
        return TorchSettings(
            self.epochs,
            self.batch_size,
            self.learning_rate,
            self.seed,
            self.threads,
            self.device,
        )


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[None]:
    saved = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def train_model(
    tensors: tuple[torch.Tensor, ...],
    build: Callable[[], M],
    loss: Callable[..., torch.Tensor],
    settings: TorchSettings,
) -> M:
    """Builds a model and trains it to minimise ``loss(model, *batch)``, where ``batch`` holds
    the same rows of each of ``tensors`` (the normalised vectors, then any labels).

    Deterministic for ``settings.seed`` on CPU: the initialisation and the batch order are drawn
    inside `torch.random.fork_rng`, so the caller's random state is left as it was. The model
    comes back on the CPU, in eval mode.
    """
    device = torch.device(settings.device)
    forked = [device.index or 0] if device.type == "cuda" else []
    with _threads(settings.threads), torch.random.fork_rng(devices=forked):
        torch.manual_seed(settings.seed)
        model = build().to(device)
        order = torch.Generator().manual_seed(settings.seed)
        opt = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
        data = [t.to(device) for t in tensors]
        n = data[0].shape[0]
        model.train()
        for _ in range(settings.epochs):
            perm = torch.randperm(n, generator=order).to(device)
            for lo in range(0, n, settings.batch_size):
                rows = perm[lo : lo + settings.batch_size]
                opt.zero_grad(set_to_none=True)
                value = loss(model, *(t[rows] for t in data))
                torch.autograd.backward(value)
                opt.step()
    return model.cpu().eval()
