"""LightGBM family: learns a planted signal, early-stops, both categorical modes, row sampling."""

from __future__ import annotations

import pytest

from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.families.lightgbm import LIGHTGBM, LightGBMConfig
from harness.families.registry import FAMILIES, get_family
from harness.fitting import EpochMetrics, TrainContext

SMALL = {"n_estimators": 300, "learning_rate": 0.1, "num_leaves": 15, "early_stopping_rounds": 20}


@pytest.mark.parametrize("categorical", ["numeric", "native"])
def test_learns_planted_signal(planted: EncodedDataset, categorical: str) -> None:
    seen: list[EpochMetrics] = []
    config = LightGBMConfig(**SMALL, categorical=categorical, rounds_per_epoch=25)  # type: ignore[arg-type]
    result = LIGHTGBM.fit(config, planted, TrainContext(seed=0, threads=1, on_epoch=seen.append))
    assert result.test.auc > 0.8
    assert result.valid.auc > 0.8
    assert seen and list(result.curve) == seen  # every curve point went to on_epoch
    assert [m.epoch for m in seen] == sorted({m.epoch for m in seen})
    assert 1 <= result.best_epoch <= seen[-1].epoch
    assert result.n_params > 0 and result.train_seconds > 0
    assert result.samples_per_s is not None and result.samples_per_s > 0


def test_early_stopping_cuts_rounds(planted: EncodedDataset) -> None:
    config = LightGBMConfig(
        n_estimators=2000, learning_rate=0.3, num_leaves=31, early_stopping_rounds=10
    )
    result = LIGHTGBM.fit(config, planted, TrainContext())
    rounds_run = result.curve[-1].epoch
    assert rounds_run < 2000
    # Stops exactly early_stopping_rounds after the best round.
    assert rounds_run == result.best_epoch + 10


def test_max_train_rows_samples_and_notes(planted: EncodedDataset) -> None:
    config = LightGBMConfig(**SMALL, max_train_rows=500)  # type: ignore[arg-type]
    result = LIGHTGBM.fit(config, planted, TrainContext(seed=3))
    assert "500 of 3000 training rows" in result.notes
    again = LIGHTGBM.fit(config, planted, TrainContext(seed=3))
    assert again.valid.auc == result.valid.auc  # seeded sample: same rows, same model
    full = LIGHTGBM.fit(LightGBMConfig(**SMALL), planted, TrainContext(seed=3))  # type: ignore[arg-type]
    assert full.notes == ""


def test_device_other_than_cpu_is_noted(planted: EncodedDataset) -> None:
    result = LIGHTGBM.fit(LightGBMConfig(n_estimators=20), planted, TrainContext(device="cuda"))
    assert "device=cuda ignored" in result.notes


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("learning_rate", 0.0),
        ("num_leaves", 1),
        ("feature_fraction", 1.5),
        ("categorical", "onehot"),
        ("max_train_rows", 0),
        ("early_stopping_rounds", 0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        LightGBMConfig(**{field: value})  # type: ignore[arg-type]


def test_registry() -> None:
    assert get_family("lightgbm") is LIGHTGBM
    assert FAMILIES["lightgbm"].kind == "gbdt"
    assert FAMILIES["lightgbm"].config_type is LightGBMConfig
    with pytest.raises(HarnessError, match=r"'xgboost'.*valid: catboost, .*lightgbm"):
        get_family("xgboost")
