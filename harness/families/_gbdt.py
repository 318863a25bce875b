"""What the GBDT families share: row sampling, the feature matrix, and the sampled learning curve.

The feature matrix is ``[x_num | x_cat | x_vec]``: the numeric values, the categorical ids (the
families decide how to treat them), then every dense vector feature's components as plain float
columns, named ``<feature>_<i>`` (`column_names`).

For a GBDT an *epoch* is one boosting round: ``EpochMetrics.epoch`` and ``FitResult.best_epoch``
count rounds (1-based). The curve is sampled every ``rounds_per_epoch`` rounds (plus the last
round), and each sample is passed to ``ctx.on_epoch``, so a scheduler such as ASHA compares GBDT
trials at equal numbers of rounds.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from harness.content.prepare import ContentReport
from harness.data.schema import EncodedDataset, EncodedSplit, FeatureSchema
from harness.fitting import EpochMetrics, FitResult, TrainContext
from harness.metrics import Metrics, binary_metrics

__all__ = [
    "BoostingFields",
    "CurveRecorder",
    "MemoryModel",
    "TaskFit",
    "available_memory",
    "check",
    "check_boosting",
    "column_names",
    "feature_matrix",
    "fit_tasks",
    "rows_per_second",
    "sample_rows",
    "training_rows",
    "with_content",
]


def check(ok: bool, message: str) -> None:
    """Raises ``ValueError(message)`` unless ``ok``: the one-line validation used by configs."""
    if not ok:
        raise ValueError(message)


class BoostingFields(Protocol):
    """The fields every GBDT config shares (validated once, by ``check_boosting``)."""

    @property
    def learning_rate(self) -> float: ...
    @property
    def early_stopping_rounds(self) -> int: ...
    @property
    def rounds_per_epoch(self) -> int: ...
    @property
    def max_train_rows(self) -> int | None: ...


def check_boosting(config: BoostingFields) -> None:
    """Validates the shared GBDT fields; each message names the field and its value."""
    check(
        0.0 < config.learning_rate <= 1.0,
        f"learning_rate must lie in (0, 1], got {config.learning_rate=}",
    )
    check(
        config.early_stopping_rounds >= 1,
        f"early_stopping_rounds must be >= 1, got {config.early_stopping_rounds=}",
    )
    check(
        config.rounds_per_epoch >= 1,
        f"rounds_per_epoch must be >= 1, got {config.rounds_per_epoch=}",
    )
    check(
        config.max_train_rows is None or config.max_train_rows >= 1,
        f"max_train_rows must be >= 1 or None (all rows), got {config.max_train_rows=}",
    )


def sample_rows(split: EncodedSplit, max_rows: int | None, seed: int) -> tuple[EncodedSplit, str]:
    """A seeded uniform sample of at most ``max_rows`` rows, in their original order.

    Args:
        split: the training split (possibly memory-mapped).
        max_rows: the most rows to keep; ``None`` keeps every row.
        seed: the sample's seed, so that a trial is reproducible.

    Returns:
        The (possibly) smaller split and a note for ``FitResult.notes`` ("" when nothing was cut).
    """
    n = split.n_rows
    if max_rows is None or n <= max_rows:
        return split, ""
    rng = np.random.default_rng(seed)
    # Sorted indices keep memory-mapped reads sequential.
    idx = np.sort(rng.choice(n, size=max_rows, replace=False))
    group = None if split.group is None else np.asarray(split.group[idx])
    x_vec = None if split.x_vec is None else np.asarray(split.x_vec[idx])
    sampled = EncodedSplit(
        x_num=split.x_num[idx], x_cat=split.x_cat[idx], y=split.y[idx], group=group, x_vec=x_vec
    )
    return sampled, f"trained on a seeded sample of {max_rows} of {n} training rows"


@dataclass(frozen=True)
class MemoryModel:
    """A GBDT's peak memory when training: ``base + (per_row + per_column * c) * rows`` bytes,
    ``c`` the dense vector columns (``x_vec``'s width) beside the measured ones.

    Measured here on synthetic Criteo rows (13 numeric + 26 categorical columns, 2 threads):
    LightGBM about 480 B per training row (the float32 feature matrix, its copy and the binned
    dataset); CatBoost about 1.5 kB per row plus 0.9 GB (max_ctr_complexity 2), from peak RSS
    at 0.4M and 1.6M rows. ``per_column``, each dense vector column's share of a row, measured
    from peak RSS with and without a 384-wide vector at 0.1M rows (2 threads): LightGBM about
    20 B (the float32 matrix, its copies and bins), CatBoost about 8 B.
    """

    per_row: int
    base: int = 0
    per_column: int = 0

    def rows_that_fit(self, available: int, columns: int = 0) -> int:
        """Training rows that fit ``available`` bytes with ``columns`` vector columns."""
        return max(1, (available - self.base) // (self.per_row + self.per_column * columns))


# Share of the available memory one trial may plan to use, scaled by its share of the CPUs
# (a stand-in for how many trials run side by side).
_MEMORY_SHARE = 0.6


def available_memory() -> int:
    """Bytes the system can give without swapping (``MemAvailable``), else total RAM / 2."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def training_rows(
    label: str,
    data: EncodedDataset,
    max_rows: int | None,
    ctx: TrainContext,
    memory: MemoryModel,
    available: int | None = None,
) -> tuple[EncodedSplit, list[str]]:
    """The training rows a GBDT fits on, and the notes its result carries.

    ``max_rows`` (the config's ``max_train_rows``) caps the rows; when it is None, the cap is
    what fits in this trial's share of the available memory according to ``memory``, so a
    full-size dataset trains on a seeded sample instead of running out of memory. Notes say
    when and why rows were sampled, and when a device other than the CPU was granted (the GBDT
    families train on the CPU).
    """
    notes: list[str] = []
    cap = max_rows
    if cap is None:
        share = _MEMORY_SHARE * min(1.0, ctx.threads / (os.cpu_count() or 1))
        budget = int(share * (available if available is not None else available_memory()))
        columns = 0 if data.train.x_vec is None else int(data.train.x_vec.shape[1])
        cap = memory.rows_that_fit(budget, columns)
        if data.train.n_rows > cap:
            per_row = memory.per_row + memory.per_column * columns
            notes.append(
                f"{label} would need about {per_row * data.train.n_rows / 2**30:.1f} GiB "
                f"for all rows, more than this trial's {budget / 2**30:.1f} GiB of memory: "
                "set max_train_rows in its search space to choose the sample size"
            )
    train, note = sample_rows(data.train, cap, ctx.seed)
    if note:
        notes.insert(0, note)
    if ctx.device != "cpu":
        notes.append(f"{label} trained on cpu (device={ctx.device} ignored)")
    return train, notes


def rows_per_second(rows: int, rounds: int, seconds: float) -> float | None:
    """Training throughput as rows x boosting rounds per second."""
    return rows * rounds / seconds if seconds > 0 else None


def feature_matrix(split: EncodedSplit) -> np.ndarray:
    """``[x_num | x_cat | x_vec]`` as one float32 matrix (ids below 2**24 stay exact in
    float32); without vector features, ``[x_num | x_cat]``."""
    parts = [np.asarray(split.x_num, dtype=np.float32), np.asarray(split.x_cat, dtype=np.float32)]
    if split.x_vec is not None:
        parts.append(np.asarray(split.x_vec, dtype=np.float32))
    return np.ascontiguousarray(np.hstack(parts))


# Characters LightGBM refuses in a feature name (JSON's), and whitespace, which it rewrites.
_UNSAFE = re.compile(r'[\s",:\[\]{}]')


def column_names(split: EncodedSplit, schema: FeatureSchema) -> list[str]:
    """Names of `feature_matrix`'s columns for ``split``: ``num_<j>``, ``cat_<j>``, then
    ``<feature>_<i>`` for component ``i`` of each of ``schema``'s vector features (characters
    LightGBM refuses become ``_``; a name taken already falls back to ``vec<k>_<i>``, ``k`` the
    feature's position).

    Raises:
        ValueError: the split's vector columns are not the schema's vector features.
    """
    width = 0 if split.x_vec is None else int(split.x_vec.shape[1])
    if width != schema.vector_width:
        raise ValueError(
            f"the split has {width} vector columns, the schema's vector features "
            f"{schema.vector_width}"
        )
    names = [f"num_{j}" for j in range(split.x_num.shape[1])]
    names += [f"cat_{j}" for j in range(split.x_cat.shape[1])]
    taken = set(names)
    for k, v in enumerate(schema.vectors):
        stem = _UNSAFE.sub("_", v.name)
        mine = [f"{stem}_{i}" for i in range(v.width)]
        stem = f"vec{k}"
        while taken.intersection(mine):
            mine = [f"{stem}_{i}" for i in range(v.width)]
            stem = f"_{stem}"
        taken.update(mine)
        names.extend(mine)
    return names


def _safe_metrics(auc: float, logloss: float) -> Metrics:
    # A library's own eval can drift a hair outside the valid range; Metrics would reject it.
    auc = auc if math.isnan(auc) else min(max(auc, 0.0), 1.0)
    return Metrics(auc=auc, logloss=max(logloss, 0.0))


class CurveRecorder:
    """Samples the validation curve every ``every`` rounds and forwards each sample to Ray.

    Args:
        every: rounds between two samples.
        on_epoch: the ``TrainContext.on_epoch`` callback.
        out_of_time: the ``TrainContext.out_of_time`` check.
        rounds: the rounds the fit asks for (its last block ends the fit anyway: not a stop).
    """

    def __init__(
        self,
        every: int,
        on_epoch: Callable[[EpochMetrics], None],
        out_of_time: Callable[[], bool] = lambda: False,
        rounds: int | None = None,
    ) -> None:
        self._every = every
        self._rounds = rounds
        self._on_epoch = on_epoch
        self._out_of_time = out_of_time
        self._curve: list[EpochMetrics] = []
        self._last: tuple[int, float, float] | None = None
        self._block_start = time.perf_counter()
        self.stopped = False

    def observe(self, round_: int, auc: float, logloss: float) -> bool:
        """Records round ``round_`` (1-based) and emits a sample on block boundaries.

        Returns:
            False once the fit's deadline has passed (checked at block boundaries): the caller
            stops boosting there, keeping its best round so far.
        """
        self._last = (round_, auc, logloss)
        if round_ % self._every == 0:
            self._emit()
            last = self._rounds is not None and round_ >= self._rounds
            if not last and self._out_of_time():
                self.stopped = True
        return not self.stopped

    def finish(self) -> tuple[EpochMetrics, ...]:
        """Emits the last observed round if it was not on a block boundary; returns the curve."""
        if self._last is not None and (not self._curve or self._curve[-1].epoch != self._last[0]):
            self._emit()
        return tuple(self._curve)

    def _emit(self) -> None:
        assert self._last is not None
        round_, auc, logloss = self._last
        now = time.perf_counter()
        m = EpochMetrics(
            epoch=round_, valid=_safe_metrics(auc, logloss), seconds=now - self._block_start
        )
        self._block_start = now
        self._curve.append(m)
        self._on_epoch(m)


@dataclass(frozen=True)
class TaskFit:
    """One booster trained on one task: its scores on valid and test, and what it cost.

    ``probabilities`` is False for ranking objectives, whose scores have no logloss.
    """

    valid_scores: np.ndarray
    test_scores: np.ndarray
    best_round: int
    curve: tuple[EpochMetrics, ...]
    n_params: int
    rounds: int
    probabilities: bool = True
    out_of_time: bool = False
    # Seconds scoring the test split took (inference cost).
    predict_seconds: float | None = None


def _ignore(_: EpochMetrics) -> None:
    pass


def fit_tasks(
    data: EncodedDataset,
    train: EncodedSplit,
    ctx: TrainContext,
    notes: list[str],
    fit_one: Callable[[int, Callable[[EpochMetrics], None]], TaskFit],
) -> FitResult:
    """One booster per task (a GBDT learns one label), scored per task.

    ``fit_one(task, on_epoch)`` trains on task ``task``; only the first (primary) task's
    learning curve goes to the scheduler, which compares trials on it.
    """
    start = time.perf_counter()
    fits = [fit_one(t, ctx.on_epoch if t == 0 else _ignore) for t in range(data.train.y.shape[1])]
    train_seconds = time.perf_counter() - start

    def scores(split: EncodedSplit, which: str) -> tuple[Metrics, ...]:
        y = np.asarray(split.y).reshape(split.n_rows, -1)
        # Per-group metrics on test only: nothing chooses by validation GAUC or NDCG.
        group = None if split.group is None or which == "valid" else np.asarray(split.group)
        return tuple(
            binary_metrics(y[:, t], getattr(f, f"{which}_scores"), group, logloss=f.probabilities)
            for t, f in enumerate(fits)
        )

    valid, test = scores(data.valid, "valid"), scores(data.test, "test")
    if not fits[0].probabilities:
        notes.append("a ranking objective: scores are not probabilities, so no logloss")
    if len(fits) > 1:
        notes.append(f"{len(fits)} boosters, one per task")
    rounds = sum(f.rounds for f in fits)
    return FitResult(
        valid=valid[0],
        test=test[0],
        best_epoch=fits[0].best_round,
        curve=fits[0].curve,
        n_params=sum(f.n_params for f in fits),
        train_seconds=train_seconds,
        samples_per_s=rows_per_second(train.n_rows, rounds, train_seconds),
        notes="; ".join(notes),
        valid_tasks=valid if len(fits) > 1 else (),
        test_tasks=test if len(fits) > 1 else (),
        out_of_time=any(f.out_of_time for f in fits),
        test_scores=np.asarray(fits[0].test_scores, dtype=np.float32),
        predict_seconds=_sum_known([f.predict_seconds for f in fits]),
    )


def _sum_known(values: Sequence[float | None]) -> float | None:
    """The sum, or None when any value is unknown."""
    return None if any(v is None for v in values) else sum(v for v in values if v is not None)


def with_content(result: FitResult, content: ContentReport | None) -> FitResult:
    """``result`` carrying what the trees saw of the vector features (`FitResult.content`)."""
    return dataclasses.replace(result, content="" if content is None else content.to_json())
