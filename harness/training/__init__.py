"""Training neural rankers: batches from encoded splits, optimisers, the loop, early stopping."""

from harness.training.config import LoaderMode, TrainConfig
from harness.training.loader import BatchLoader, make_loader
from harness.training.loop import (
    DivergedError,
    EpochStats,
    fit,
    make_optimizers,
    predict,
    resolve_device,
    train_epoch,
    train_step,
)

__all__ = [
    "BatchLoader",
    "DivergedError",
    "EpochStats",
    "LoaderMode",
    "TrainConfig",
    "fit",
    "make_loader",
    "make_optimizers",
    "predict",
    "resolve_device",
    "train_epoch",
    "train_step",
]
