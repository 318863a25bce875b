"""LightGBM as a baseline family: early-stopped on the validation split, scored like every family.

Categorical ids can reach LightGBM two ways (the ``categorical`` field, searchable):

- ``"numeric"``: the encoded ids are plain numeric features. Ids are assigned by the adapter, so
  splits on them are arbitrary groupings, but on high-cardinality CTR columns this was about 9x
  faster than native handling at a similar AUC in a probe.
- ``"native"``: the id columns are passed as ``categorical_feature`` (LightGBM's many-vs-many
  categorical splits with ``cat_smooth`` regularisation).

Dense vector features (``x_vec``) are plain float columns after the ids, one per component.

On grouped data (a card's ``group``: queries, users) ``objective = "lambdarank"`` learns to rank
within groups (LambdaMART); the default ``binary`` learns click probabilities. One booster is
trained per task.

Early stopping watches the validation AUC (the metric the tuner maximises); the model is scored
at its best round. LightGBM always trains on the CPU here, whatever ``ctx.device`` says.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from harness.content.config import ContentConfig
from harness.content.prepare import apply_content
from harness.data.schema import EncodedDataset, EncodedSplit
from harness.families._gbdt import (
    CurveRecorder,
    MemoryModel,
    TaskFit,
    check,
    check_boosting,
    column_names,
    feature_matrix,
    fit_tasks,
    training_rows,
    with_content,
)
from harness.fitting import EpochMetrics, FitResult, TrainContext

__all__ = ["LIGHTGBM", "LightGBMConfig", "LightGBMFamily"]

# Peak training memory, measured (see MemoryModel): bounds the rows when max_train_rows is None.
_MEMORY = MemoryModel(per_row=480, per_column=20)


@dataclass(frozen=True)
class LightGBMConfig:
    """A LightGBM trial: flat fields, filled by ``search_spaces/lightgbm.toml``.

    Attributes:
        n_estimators: the most boosting rounds; early stopping usually ends sooner.
        learning_rate: shrinkage per round.
        num_leaves: leaves per tree (LightGBM grows trees leaf-wise).
        max_depth: depth limit, -1 for none.
        min_child_samples: the fewest training rows in a leaf.
        feature_fraction: share of features sampled per tree.
        bagging_fraction: share of rows sampled per round; 1.0 turns bagging off.
        lambda_l1: L1 penalty on leaf values.
        lambda_l2: L2 penalty on leaf values.
        max_bin: histogram bins per numeric feature.
        categorical: ``"numeric"`` (ids as numbers) or ``"native"`` (``categorical_feature``).
        objective: ``"binary"`` (logloss: probabilities) or ``"lambdarank"`` (ranks within the
            data's groups; needs a card with a ``group`` column).
        cat_smooth: smoothing of category statistics (native categorical only).
        early_stopping_rounds: rounds without a better validation AUC before stopping.
        rounds_per_epoch: rounds between two points of the learning curve (and two reports to
            the scheduler).
        max_train_rows: train on a seeded uniform sample of this many training rows when the
            training split does not fit GBDT memory; ``None`` uses every row. Noted in the result.
        content: what the trees see of the dataset's vector features, as columns
            (`ContentConfig`: dropped, as they are, or compressed).
    """

    n_estimators: int = 2000
    learning_rate: float = 0.05
    num_leaves: int = 63
    max_depth: int = -1
    min_child_samples: int = 20
    feature_fraction: float = 1.0
    bagging_fraction: float = 1.0
    lambda_l1: float = 0.0
    lambda_l2: float = 0.0
    max_bin: int = 255
    categorical: Literal["numeric", "native"] = "numeric"
    objective: Literal["binary", "lambdarank"] = "binary"
    cat_smooth: float = 10.0
    early_stopping_rounds: int = 100
    rounds_per_epoch: int = 50
    max_train_rows: int | None = None
    content: ContentConfig = field(default_factory=ContentConfig)

    def __post_init__(self) -> None:
        check_boosting(self)
        check(self.n_estimators >= 1, f"n_estimators must be >= 1, got {self.n_estimators=}")
        check(self.num_leaves >= 2, f"num_leaves must be >= 2, got {self.num_leaves=}")
        check(
            self.max_depth == -1 or self.max_depth >= 1,
            f"max_depth must be -1 (no limit) or >= 1, got {self.max_depth=}",
        )
        check(
            self.min_child_samples >= 1,
            f"min_child_samples must be >= 1, got {self.min_child_samples=}",
        )
        check(
            0.0 < self.feature_fraction <= 1.0,
            f"feature_fraction must lie in (0, 1], got {self.feature_fraction=}",
        )
        check(
            0.0 < self.bagging_fraction <= 1.0,
            f"bagging_fraction must lie in (0, 1], got {self.bagging_fraction=}",
        )
        check(self.lambda_l1 >= 0.0, f"lambda_l1 must be >= 0, got {self.lambda_l1=}")
        check(self.lambda_l2 >= 0.0, f"lambda_l2 must be >= 0, got {self.lambda_l2=}")
        check(self.max_bin >= 2, f"max_bin must be >= 2, got {self.max_bin=}")
        check(
            self.categorical in ("numeric", "native"),
            f"categorical must be 'numeric' or 'native', got {self.categorical=}",
        )
        check(self.cat_smooth >= 0.0, f"cat_smooth must be >= 0, got {self.cat_smooth=}")
        check(
            self.objective in ("binary", "lambdarank"),
            f"objective must be 'binary' or 'lambdarank', got {self.objective=}",
        )

    def lgb_params(self, *, threads: int, seed: int, categorical_idx: list[int]) -> dict[str, Any]:
        """The parameter dict handed to ``lightgbm.train``."""
        params: dict[str, Any] = {
            "objective": self.objective,
            # AUC first: early stopping watches it; logloss rides along for the curve (a ranking
            # objective's scores are no probabilities: AUC only).
            "metric": ["auc", "binary_logloss"] if self.objective == "binary" else ["auc"],
            "first_metric_only": True,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1.0 else 0,
            "lambda_l1": self.lambda_l1,
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "num_threads": threads,
            "seed": seed,
            "verbosity": -1,
            # Skips LightGBM's row-vs-column-wise timing probe (and its message).
            "force_col_wise": True,
        }
        if categorical_idx:
            params["cat_smooth"] = self.cat_smooth
        return params


def _count_nodes(booster: Any, num_iteration: int) -> int:
    """Tree nodes (splits + leaves) in the first ``num_iteration`` trees of a booster."""
    text: str = booster.model_to_string(num_iteration=num_iteration)
    leaves = [
        int(line[len("num_leaves=") :])
        for line in text.splitlines()
        if line.startswith("num_leaves=")
    ]
    # A binary tree with L leaves has L - 1 splits.
    return sum(2 * n - 1 for n in leaves)


class LightGBMFamily:
    """The LightGBM family (see the module docstring)."""

    name = "lightgbm"
    kind: Literal["gbdt", "neural"] = "gbdt"
    config_type: type[Any] = LightGBMConfig

    def validate(self, config: Any, data: EncodedDataset) -> None:
        """A ranking objective needs grouped data."""
        if not isinstance(config, LightGBMConfig):
            raise ValueError(f"expected a LightGBMConfig, got {type(config).__name__}")
        if config.objective == "lambdarank" and data.train.group is None:
            raise ValueError(
                "objective='lambdarank' ranks within groups: the dataset has none (give its "
                "card a `group` column)"
            )
        config.content.check(data.schema)

    def fit(self, config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        """Trains on ``data.train``, early-stops on ``data.valid`` AUC, scores ``data.test``."""
        if not isinstance(config, LightGBMConfig):
            raise TypeError(f"expected a LightGBMConfig, got {type(config).__name__}")
        self.validate(config, data)
        data, content = apply_content(config.content, data, seed=ctx.seed)
        train, notes = training_rows("LightGBM", data, config.max_train_rows, ctx, _MEMORY)
        if config.objective == "lambdarank":
            train = _grouped(train)
        n_num = data.schema.n_num
        n_cat = int(train.x_cat.shape[1])
        cat_idx = list(range(n_num, n_num + n_cat)) if config.categorical == "native" else []
        params = config.lgb_params(threads=ctx.threads, seed=ctx.seed, categorical_idx=cat_idx)
        x_train = feature_matrix(train)
        x_valid, x_test = feature_matrix(data.valid), feature_matrix(data.test)
        names = column_names(train, data.schema)

        def fit_one(task: int, on_epoch: Callable[[EpochMetrics], None]) -> TaskFit:
            import lightgbm as lgb  # heavy import: only in the process that trains

            group = None if config.objective == "binary" else _group_sizes(train)
            dtrain = lgb.Dataset(
                x_train,
                label=np.ascontiguousarray(train.y[:, task], dtype=np.float32),
                group=group,
                feature_name=names,
                categorical_feature=cat_idx if cat_idx else "auto",
                free_raw_data=False,
            )
            dvalid = lgb.Dataset(
                x_valid,
                label=np.ascontiguousarray(data.valid.y[:, task], dtype=np.float32),
                reference=dtrain,
            )
            recorder = CurveRecorder(
                config.rounds_per_epoch, on_epoch, ctx.out_of_time, config.n_estimators
            )
            top: list[Any] = [-math.inf, 0, []]  # AUC, iteration, evaluation list

            def record(env: Any) -> None:
                scores = {name: value for _, name, value, *_ in env.evaluation_result_list}
                loss = scores.get("binary_logloss", math.nan)
                if scores["auc"] > top[0]:
                    top[:] = [scores["auc"], env.iteration, env.evaluation_result_list]
                if not recorder.observe(env.iteration + 1, scores["auc"], loss):
                    # The deadline passed: stop as early stopping does, at the best round.
                    raise lgb.callback.EarlyStopException(top[1], top[2])

            booster = lgb.train(
                params,
                dtrain,
                num_boost_round=config.n_estimators,
                valid_sets=[dvalid],
                valid_names=["valid"],
                callbacks=[
                    record,
                    lgb.early_stopping(
                        config.early_stopping_rounds, first_metric_only=True, verbose=False
                    ),
                ],
            )
            best = int(booster.best_iteration) or booster.current_iteration()
            predict_start = time.perf_counter()
            test_scores = np.asarray(booster.predict(x_test, num_iteration=best))
            predict_seconds = time.perf_counter() - predict_start
            return TaskFit(
                valid_scores=np.asarray(booster.predict(x_valid, num_iteration=best)),
                test_scores=test_scores,
                predict_seconds=predict_seconds,
                best_round=best,
                curve=recorder.finish(),
                n_params=_count_nodes(booster, best),
                rounds=booster.current_iteration(),
                probabilities=config.objective == "binary",
                out_of_time=recorder.stopped,
            )

        return with_content(fit_tasks(data, train, ctx, notes, fit_one), content)


def _grouped(split: EncodedSplit) -> EncodedSplit:
    """The rows sorted by group (stably), as LightGBM's ranking objectives need them."""
    assert split.group is not None
    order = np.argsort(np.asarray(split.group), kind="stable")
    return EncodedSplit(
        x_num=np.asarray(split.x_num)[order],
        x_cat=np.asarray(split.x_cat)[order],
        y=np.asarray(split.y)[order],
        group=np.asarray(split.group)[order],
        x_vec=None if split.x_vec is None else np.asarray(split.x_vec)[order],
    )


def _group_sizes(split: EncodedSplit) -> np.ndarray:
    """Rows per run of equal group keys, in row order (the split is sorted by group)."""
    assert split.group is not None
    keys = np.asarray(split.group)
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    sizes: np.ndarray = np.diff(np.r_[starts, keys.size])
    return sizes


LIGHTGBM = LightGBMFamily()
