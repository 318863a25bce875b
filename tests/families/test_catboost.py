"""CatBoost family: learns a planted signal on cat_features, early-stops, row sampling."""

from __future__ import annotations

import pytest

from harness.data.schema import EncodedDataset
from harness.families.catboost import CATBOOST, CatBoostConfig
from harness.families.registry import get_family
from harness.fitting import EpochMetrics, TrainContext

SMALL = {"iterations": 200, "learning_rate": 0.2, "depth": 4, "early_stopping_rounds": 20}


def test_learns_planted_signal(planted: EncodedDataset) -> None:
    seen: list[EpochMetrics] = []
    config = CatBoostConfig(**SMALL, rounds_per_epoch=25)  # type: ignore[arg-type]
    result = CATBOOST.fit(config, planted, TrainContext(seed=0, threads=1, on_epoch=seen.append))
    assert result.test.auc > 0.8
    assert seen and list(result.curve) == seen
    assert 1 <= result.best_epoch <= seen[-1].epoch
    # Symmetric trees of depth <= 4: at most 16 leaves + 4 splits per kept tree.
    assert 0 < result.n_params <= result.best_epoch * (16 + 4)


def test_early_stopping_cuts_rounds(planted: EncodedDataset) -> None:
    config = CatBoostConfig(iterations=2000, learning_rate=0.5, depth=6, early_stopping_rounds=10)
    result = CATBOOST.fit(config, planted, TrainContext())
    rounds_run = result.curve[-1].epoch
    assert rounds_run < 2000
    assert rounds_run == result.best_epoch + 10


def test_max_train_rows_samples_and_notes(planted: EncodedDataset) -> None:
    config = CatBoostConfig(**SMALL, max_train_rows=600)  # type: ignore[arg-type]
    result = CATBOOST.fit(config, planted, TrainContext(seed=1))
    assert "600 of 3000 training rows" in result.notes
    assert result.test.auc > 0.7


@pytest.mark.parametrize(
    ("field", "value"),
    [("depth", 0), ("learning_rate", 2.0), ("l2_leaf_reg", -1.0), ("iterations", 0)],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        CatBoostConfig(**{field: value})  # type: ignore[arg-type]


def test_registry() -> None:
    family = get_family("catboost")
    assert family is CATBOOST and family.kind == "gbdt" and family.config_type is CatBoostConfig
