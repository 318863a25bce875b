"""What every model family (GBDT or neural) offers the tuner: a typed config and ``fit``.

A family turns a validated config plus an encoded dataset into a ``FitResult``; the tuner never
needs to know whether it is driving LightGBM or a torch ranker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from harness.data.schema import EncodedDataset
from harness.metrics import Metrics

__all__ = ["EpochMetrics", "Family", "FitResult", "TrainContext"]


@dataclass(frozen=True)
class EpochMetrics:
    """Validation metrics after one epoch (or one boosting round block for a GBDT).

    ``test`` is set only on an epoch whose validation AUC is the best so far (neural families):
    a trial stopped later by the scheduler or the time limit then still has the test score of
    its best epoch. It is reported, never used to choose anything.
    """

    epoch: int
    valid: Metrics
    train_loss: float | None = None
    seconds: float = 0.0
    test: Metrics | None = None


@dataclass(frozen=True)
class TrainContext:
    """Where and how a fit runs: threads and device come from the resources Ray granted."""

    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    on_epoch: Callable[[EpochMetrics], None] = field(default=lambda _m: None, compare=False)
    show_progress: bool = False

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads=}")


@dataclass(frozen=True)
class FitResult:
    """What one fit produced, scored at its best validation epoch."""

    valid: Metrics
    test: Metrics
    best_epoch: int
    curve: tuple[EpochMetrics, ...]
    n_params: int
    train_seconds: float
    samples_per_s: float | None = None
    notes: str = ""


class Family(Protocol):
    """A model family: a name, a config dataclass the search space fills, and ``fit``."""

    name: str
    kind: Literal["gbdt", "neural"]
    config_type: type[Any]

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        """Trains on ``data.train``, early-stops on ``data.valid``, scores ``data.test``."""
        ...
