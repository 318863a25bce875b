"""What one fit receives and returns, for every model family and the training loop.

``TrainContext`` (seed, threads, device, the per-epoch callback), ``EpochMetrics`` (one point of
the validation curve) and ``FitResult`` (scores at the best epoch, the curve, the cost).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from harness.metrics import Metrics

__all__ = ["EpochMetrics", "FitResult", "TrainContext"]


@dataclass(frozen=True)
class EpochMetrics:
    """Validation metrics after one epoch (or one boosting round block for a GBDT).

    ``test`` is set only on an epoch whose validation AUC is the best so far (neural families):
    a trial stopped later by the scheduler or the time limit then still has the test score of
    its best epoch. It is reported, never used to choose anything. ``valid`` and ``test`` score
    the first (primary) task; ``valid_tasks`` and ``test_tasks`` every task, in label order.
    ``n_params`` is the model's size where it is fixed (neural families), sent with each epoch so
    that a stopped trial still reports it; ``embedding_params`` and ``embedding_bytes`` likewise
    (the categorical embeddings' share of it, `Ranker.embedding_footprint`). With ``test``
    come ``test_scores`` (the primary task's test predictions, row order) and
    ``predict_seconds`` (the time scoring the test split took). ``evals`` are the validation
    AUCs scored within the epoch when the fit asks for several per epoch, as (epochs trained,
    AUC) pairs ending with this epoch's end (empty: once per epoch).
    """

    epoch: int
    valid: Metrics
    train_loss: float | None = None
    seconds: float = 0.0
    test: Metrics | None = None
    valid_tasks: tuple[Metrics, ...] = ()
    test_tasks: tuple[Metrics, ...] = ()
    out_of_time: bool = False
    n_params: int | None = None
    embedding_params: int | None = None
    embedding_bytes: int | None = None
    test_scores: np.ndarray | None = field(default=None, compare=False, repr=False)
    predict_seconds: float | None = None
    evals: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class TrainContext:
    """Where and how a fit runs: threads and device come from the resources Ray granted.

    ``deadline`` (a ``time.time()``) is when the fit's share of the time budget ends: a family
    checks ``out_of_time()`` after each epoch (a GBDT after each block of rounds) and stops
    there, keeping its best epoch so far, so that one model cannot eat the next one's share.
    """

    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    on_epoch: Callable[[EpochMetrics], None] = field(default=lambda _m: None, compare=False)
    show_progress: bool = False
    deadline: float | None = None
    # Where the run keeps its teachers' scores of the training rows (distillation), if any.
    teachers_dir: str | None = None

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ValueError(f"threads must be at least 1, got {self.threads=}")

    def out_of_time(self) -> bool:
        """Whether the deadline has passed (never, without one)."""
        return self.deadline is not None and time.time() >= self.deadline


@dataclass(frozen=True)
class FitResult:
    """What one fit produced, scored at its best validation epoch.

    ``valid`` and ``test`` score the first (primary) task, which the search maximises;
    ``valid_tasks`` and ``test_tasks`` score every task in label order (empty: only one task
    was scored). ``out_of_time`` is True when the deadline stopped the fit before its own early
    stopping did: the scores are those of its best epoch until then. ``embedding_params`` and
    ``embedding_bytes`` size the categorical embeddings (tables and projections) of a neural
    ranker, for quality against memory; None for a family without embeddings (GBDTs).
    ``test_scores`` are the primary task's predictions on the test rows at the best epoch (in
    row order; the significance tests of the leaderboard resample them), and
    ``predict_seconds`` the time that scoring the test split once took (inference cost).
    ``content`` says what the model saw of the dataset's vector features (dropped, full size or
    compressed, with the retrieval view), as `harness.content.prepare.ContentReport` JSON; ""
    without vector features. ``matryoshka`` holds the scores with the categorical embeddings
    cut to each Matryoshka size (``[train.matryoshka]``) and whole, and the ID tables' bytes
    at each, as JSON ``{"<size>": {valid_auc, valid_logloss, test_auc, test_logloss,
    table_bytes}}``; "" when the fit trained no sizes.
    """

    valid: Metrics
    test: Metrics
    best_epoch: int
    curve: tuple[EpochMetrics, ...]
    n_params: int
    train_seconds: float
    samples_per_s: float | None = None
    notes: str = ""
    valid_tasks: tuple[Metrics, ...] = ()
    test_tasks: tuple[Metrics, ...] = ()
    out_of_time: bool = False
    embedding_params: int | None = None
    embedding_bytes: int | None = None
    test_scores: np.ndarray | None = field(default=None, compare=False, repr=False)
    predict_seconds: float | None = None
    content: str = ""
    matryoshka: str = ""
