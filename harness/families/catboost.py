"""CatBoost as a baseline family: ordered target statistics on the categorical ids.

The encoded id columns are CatBoost ``cat_features`` (integer columns of a pandas frame, built
column by column from the arrays, no per-row Python); dense vector features (``x_vec``) are
float columns after them, one per component (``<feature>_<i>``). Early stopping watches the
validation AUC (the metric the tuner maximises) and ``use_best_model`` keeps the best round.
CatBoost always trains on the CPU here, whatever ``ctx.device`` says (its GPU mode has no Python
callbacks, which the per-round curve needs).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from harness.content.config import ContentConfig
from harness.content.prepare import apply_content
from harness.data.schema import EncodedDataset, EncodedSplit, FeatureSchema
from harness.families._gbdt import (
    CurveRecorder,
    MemoryModel,
    TaskFit,
    check,
    check_boosting,
    column_names,
    fit_tasks,
    training_rows,
    with_content,
)
from harness.fitting import EpochMetrics, FitResult, TrainContext

__all__ = ["CATBOOST", "CatBoostConfig", "CatBoostFamily"]

# Peak training memory, measured (see MemoryModel): bounds the rows when max_train_rows is None.
_MEMORY = MemoryModel(per_row=1_500, base=900 << 20, per_column=8)


@dataclass(frozen=True)
class CatBoostConfig:
    """A CatBoost trial: flat fields, filled by ``search_spaces/catboost.toml``.

    Attributes:
        iterations: the most boosting rounds; early stopping usually ends sooner.
        learning_rate: shrinkage per round.
        depth: depth of each (symmetric) tree.
        l2_leaf_reg: L2 penalty on leaf values.
        random_strength: noise added to split scores (regularisation).
        bagging_temperature: Bayesian bootstrap intensity (0 = no bagging).
        border_count: histogram bins per numeric feature.
        one_hot_max_size: categorical columns with at most this many values are one-hot encoded.
        max_ctr_complexity: the most categorical columns CatBoost combines into one feature
            (its default on the CPU is 4). Combinations are its strength on CTR data and most
            of its cost: 1 turns them off and is several times faster.
        early_stopping_rounds: rounds without a better validation AUC before stopping.
        rounds_per_epoch: rounds between two points of the learning curve (and two reports to
            the scheduler).
        max_train_rows: train on a seeded uniform sample of this many training rows when the
            training split does not fit GBDT memory; ``None`` uses every row. Noted in the result.
        content: what the trees see of the dataset's vector features, as columns
            (`ContentConfig`: dropped, as they are, or compressed).
    """

    iterations: int = 2000
    learning_rate: float = 0.05
    depth: int = 6
    l2_leaf_reg: float = 3.0
    random_strength: float = 1.0
    bagging_temperature: float = 1.0
    border_count: int = 254
    one_hot_max_size: int = 2
    max_ctr_complexity: int = 4
    early_stopping_rounds: int = 100
    rounds_per_epoch: int = 50
    max_train_rows: int | None = None
    content: ContentConfig = field(default_factory=ContentConfig)

    def __post_init__(self) -> None:
        check_boosting(self)
        check(self.iterations >= 1, f"iterations must be >= 1, got {self.iterations=}")
        check(1 <= self.depth <= 16, f"depth must lie in [1, 16], got {self.depth=}")
        check(self.l2_leaf_reg >= 0.0, f"l2_leaf_reg must be >= 0, got {self.l2_leaf_reg=}")
        check(
            self.random_strength >= 0.0,
            f"random_strength must be >= 0, got {self.random_strength=}",
        )
        check(
            self.bagging_temperature >= 0.0,
            f"bagging_temperature must be >= 0, got {self.bagging_temperature=}",
        )
        check(
            1 <= self.border_count <= 65535,
            f"border_count must lie in [1, 65535], got {self.border_count=}",
        )
        check(
            self.max_ctr_complexity >= 1,
            f"max_ctr_complexity must be >= 1, got {self.max_ctr_complexity=}",
        )
        check(
            self.one_hot_max_size >= 0,
            f"one_hot_max_size must be >= 0, got {self.one_hot_max_size=}",
        )


def _frame(split: EncodedSplit, schema: FeatureSchema) -> Any:
    """A pandas frame: numeric columns float32 (NaN = missing), categorical columns int32, then
    the vector features' components float32 (names: `column_names`)."""
    # pandas has no type stubs here; CatBoost's integer cat_features need a frame, not an array.
    pd: Any = importlib.import_module("pandas")
    names = iter(column_names(split, schema))
    columns: dict[str, np.ndarray] = {}
    for j in range(split.x_num.shape[1]):
        columns[next(names)] = np.asarray(split.x_num[:, j], dtype=np.float32)
    for j in range(split.x_cat.shape[1]):
        columns[next(names)] = np.asarray(split.x_cat[:, j], dtype=np.int32)
    if split.x_vec is not None:
        x_vec = np.asarray(split.x_vec, dtype=np.float32)
        for j in range(x_vec.shape[1]):
            columns[next(names)] = x_vec[:, j]
    return pd.DataFrame(columns, copy=False)


def _pool(frame: Any, split: EncodedSplit, n_num: int, task: int) -> Any:
    from catboost import Pool

    cat_features = list(range(n_num, n_num + int(split.x_cat.shape[1])))
    return Pool(
        frame,
        label=np.asarray(split.y[:, task], dtype=np.float32),
        cat_features=cat_features,
    )


class _Recorder:
    """A CatBoost training callback feeding the validation AUC/logloss to a ``CurveRecorder``."""

    def __init__(self, recorder: CurveRecorder) -> None:
        self._recorder = recorder

    def after_iteration(self, info: Any) -> bool:
        valid = info.metrics["validation"]
        # info.iteration is 1-based: the number of trees built so far.
        # False stops boosting (the deadline passed); early stopping is CatBoost's own.
        return self._recorder.observe(int(info.iteration), valid["AUC"][-1], valid["Logloss"][-1])


class CatBoostFamily:
    """The CatBoost family (see the module docstring)."""

    name = "catboost"
    kind: Literal["gbdt", "neural"] = "gbdt"
    config_type: type[Any] = CatBoostConfig

    def validate(self, config: Any, data: EncodedDataset) -> None:
        """Only the ``content`` table depends on the dataset's schema (its vector features)."""
        if not isinstance(config, self.config_type):
            raise ValueError(f"expected a {self.config_type.__name__}, got {type(config).__name__}")
        config.content.check(data.schema)

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        """Trains on ``data.train``, early-stops on ``data.valid`` AUC, scores ``data.test``."""
        if not isinstance(config, CatBoostConfig):
            raise TypeError(f"expected a CatBoostConfig, got {type(config).__name__}")
        data, content = apply_content(config.content, data, seed=ctx.seed)
        train, notes = training_rows("CatBoost", data, config.max_train_rows, ctx, _MEMORY)
        n_num = data.schema.n_num
        frames = {name: _frame(split, data.schema) for name, split in (("train", train),
                  ("valid", data.valid), ("test", data.test))}  # fmt: skip

        def fit_one(task: int, on_epoch: Callable[[EpochMetrics], None]) -> TaskFit:
            from catboost import CatBoostClassifier

            pools = {
                name: _pool(frames[name], split, n_num, task)
                for name, split in (("train", train), ("valid", data.valid), ("test", data.test))
            }
            model = CatBoostClassifier(
                iterations=config.iterations,
                learning_rate=config.learning_rate,
                depth=config.depth,
                l2_leaf_reg=config.l2_leaf_reg,
                random_strength=config.random_strength,
                bagging_temperature=config.bagging_temperature,
                border_count=config.border_count,
                one_hot_max_size=config.one_hot_max_size,
                max_ctr_complexity=config.max_ctr_complexity,
                loss_function="Logloss",
                eval_metric="AUC",
                custom_metric=["Logloss"],
                early_stopping_rounds=config.early_stopping_rounds,
                use_best_model=True,
                thread_count=ctx.threads,
                random_seed=ctx.seed,
                allow_writing_files=False,
                verbose=False,
            )
            recorder = CurveRecorder(
                config.rounds_per_epoch, on_epoch, ctx.out_of_time, config.iterations
            )
            model.fit(pools["train"], eval_set=pools["valid"], callbacks=[_Recorder(recorder)])
            curve = recorder.finish()
            # Symmetric trees: a tree with 2**d leaf values has one split per level (d splits);
            # CatBoost may stop a tree short of ``depth``.
            leaves = np.asarray(model.get_tree_leaf_counts(), dtype=np.int64)
            best = model.get_best_iteration()
            predict_start = time.perf_counter()
            test_scores = model.predict_proba(pools["test"])[:, 1]
            predict_seconds = time.perf_counter() - predict_start
            return TaskFit(
                valid_scores=model.predict_proba(pools["valid"])[:, 1],
                test_scores=test_scores,
                predict_seconds=predict_seconds,
                best_round=int(best) + 1 if best is not None else int(model.tree_count_),
                curve=curve,
                n_params=int(leaves.sum() + np.log2(np.maximum(leaves, 1)).round().sum()),
                rounds=curve[-1].epoch if curve else int(model.tree_count_),
                out_of_time=recorder.stopped,
            )

        return with_content(fit_tasks(data, train, ctx, notes, fit_one), content)


CATBOOST = CatBoostFamily()
