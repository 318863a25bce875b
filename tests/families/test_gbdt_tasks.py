"""GBDTs on multi-task and grouped data: one booster per task, LightGBM's ranking objective."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from harness.data.schema import EncodedDataset
from harness.families.catboost import CATBOOST, CatBoostConfig
from harness.families.lightgbm import LIGHTGBM, LightGBMConfig
from harness.fitting import EpochMetrics, TrainContext
from tests.planted import planted_dataset

SMALL = {"n_estimators": 200, "learning_rate": 0.1, "num_leaves": 15, "early_stopping_rounds": 20}


def _two_tasks(data: EncodedDataset) -> EncodedDataset:
    """The planted label and its complement: a second task the booster must learn on its own."""
    splits = {
        name: replace(data.split(name), y=np.hstack([data.split(name).y, 1 - data.split(name).y]))
        for name in ("train", "valid", "test")
    }
    return replace(data, schema=replace(data.schema, labels=("a", "b")), **splits)


@pytest.fixture(scope="module")
def two_tasks() -> EncodedDataset:
    return _two_tasks(planted_dataset((12, 300), 3000, 1000))


def test_lightgbm_trains_one_booster_per_task(two_tasks: EncodedDataset) -> None:
    seen: list[EpochMetrics] = []
    result = LIGHTGBM.fit(
        LightGBMConfig(**SMALL, rounds_per_epoch=25),  # type: ignore[arg-type]
        two_tasks,
        TrainContext(on_epoch=seen.append),
    )
    a, b = result.test_tasks
    assert result.test == a and len(result.valid_tasks) == 2
    assert a.auc > 0.8 and b.auc > 0.8  # the complement is as learnable as the label
    assert "2 boosters, one per task" in result.notes
    # Only the first task's curve goes to the scheduler.
    assert list(result.curve) == seen


def test_catboost_trains_one_booster_per_task(two_tasks: EncodedDataset) -> None:
    config = CatBoostConfig(iterations=60, learning_rate=0.2, depth=4, early_stopping_rounds=20)
    result = CATBOOST.fit(config, two_tasks, TrainContext(threads=2))
    assert len(result.test_tasks) == 2
    assert all(m.auc > 0.75 for m in result.test_tasks)


def test_single_task_results_carry_no_task_breakdown() -> None:
    data = planted_dataset((12, 300), 1500, 500)
    result = LIGHTGBM.fit(LightGBMConfig(**SMALL), data, TrainContext())  # type: ignore[arg-type]
    assert result.valid_tasks == () and result.test_tasks == ()


def test_lambdarank_ranks_within_groups() -> None:
    data = planted_dataset((12, 300), 3000, 1000, group_size=25)
    config = LightGBMConfig(**SMALL, objective="lambdarank")  # type: ignore[arg-type]
    LIGHTGBM.validate(config, data)
    result = LIGHTGBM.fit(config, data, TrainContext())
    assert result.test.auc > 0.75
    assert result.test.gauc is not None and result.test.gauc > 0.7
    assert result.test.ndcg10 is not None and 0.0 < result.test.ndcg10 <= 1.0
    assert np.isnan(result.test.logloss)  # ranking scores are not probabilities
    assert "no logloss" in result.notes


def test_lambdarank_needs_groups() -> None:
    data = planted_dataset((12, 300), 300, 100)
    config = LightGBMConfig(**SMALL, objective="lambdarank")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lambdarank.*ranks within groups"):
        LIGHTGBM.validate(config, data)


def test_binary_objective_on_grouped_data_also_reports_group_metrics() -> None:
    data = planted_dataset((12, 300), 2000, 1000, group_size=20)
    result = LIGHTGBM.fit(LightGBMConfig(**SMALL), data, TrainContext())  # type: ignore[arg-type]
    assert result.test.gauc is not None and result.test.ndcg10 is not None
    assert result.test.logloss > 0
