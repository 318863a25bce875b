"""A fit stops at its deadline (the end of its share of the time budget), keeping its best epoch.

Each family checks ``TrainContext.out_of_time`` after every epoch (a GBDT after every block of
rounds); a deadline already past stops it after the first one.
"""

from __future__ import annotations

import time

from harness.data.schema import EncodedDataset
from harness.families.catboost import CATBOOST, CatBoostConfig
from harness.families.lightgbm import LIGHTGBM, LightGBMConfig
from harness.families.neural import NEURAL, NeuralConfig
from harness.fitting import FitResult, TrainContext
from harness.models.backbones import MLPConfig
from harness.models.interactions import CrossConfig
from harness.models.ranker import RankerConfig
from harness.models.tokenizer import TokenizerConfig
from harness.training.config import TrainConfig

PAST = TrainContext(threads=1, deadline=0.0)


def _check(fit: FitResult, epochs: int) -> None:
    assert fit.out_of_time
    assert [m.epoch for m in fit.curve] == [epochs]
    assert fit.best_epoch <= epochs and fit.test.auc > 0.5


def test_lightgbm_stops_after_the_first_block(planted: EncodedDataset) -> None:
    config = LightGBMConfig(n_estimators=500, early_stopping_rounds=500, rounds_per_epoch=10)
    fit = LIGHTGBM.fit(config, planted, PAST)
    _check(fit, 10)
    later = LIGHTGBM.fit(config, planted, TrainContext(threads=1, deadline=time.time() + 3600))
    assert not later.out_of_time and later.curve[-1].epoch > 10


def test_catboost_stops_after_the_first_block(planted: EncodedDataset) -> None:
    config = CatBoostConfig(iterations=500, early_stopping_rounds=500, rounds_per_epoch=10)
    _check(CATBOOST.fit(config, planted, PAST), 10)


def test_a_neural_fit_stops_after_the_first_epoch(planted: EncodedDataset) -> None:
    config = NeuralConfig(
        model=RankerConfig(
            tokenizer=TokenizerConfig(embedding_dim=4),
            interaction=CrossConfig(layers=1),
            backbone=MLPConfig(dims=(16,)),
        ),
        train=TrainConfig(batch_size=256, max_epochs=4, patience=4),
    )
    _check(NEURAL.fit(config, planted, PAST), 1)
    assert not NEURAL.fit(config, planted, TrainContext(threads=1)).out_of_time


def test_a_fit_that_ends_at_its_last_round_is_not_out_of_time(planted: EncodedDataset) -> None:
    config = LightGBMConfig(n_estimators=20, early_stopping_rounds=50, rounds_per_epoch=10)
    fit = LIGHTGBM.fit(config, planted, TrainContext(threads=1, deadline=0.0))
    assert fit.out_of_time and fit.curve[-1].epoch == 10
    config = LightGBMConfig(n_estimators=10, early_stopping_rounds=50, rounds_per_epoch=10)
    fit = LIGHTGBM.fit(config, planted, TrainContext(threads=1, deadline=0.0))
    assert not fit.out_of_time and fit.curve[-1].epoch == 10
