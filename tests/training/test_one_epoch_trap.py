"""The one-epoch phenomenon on planted data: a high-cardinality id with no signal, seen a few
times per id, is memorised from the second epoch on and validation AUC falls; the remedies that
keep the tables from memorising (``reset``, pre-trained and frozen tables) hold it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)
from harness.families.neural import NeuralConfig, build_ranker
from harness.fitting import TrainContext
from harness.models import MLPConfig, RankerConfig, TokenizerConfig
from harness.models.interactions import CrossConfig
from harness.training import TrainConfig, fit
from harness.training.embeddings import EmbeddingTraining, NoScheduleConfig, ResetConfig
from harness.training.pretrain import PretrainConfig

# Two informative fields of 12 values, and the trap: 4000 ids, each seen about 4 times in
# training, independent of the label.
CARDS = (12, 12, 4000)
MODEL = RankerConfig(
    tokenizer=TokenizerConfig(embedding_dim=16),
    interaction=CrossConfig(layers=1),
    backbone=MLPConfig(dims=(64, 32)),
)


def _split(rows: int, seed: int, weights: list[np.ndarray]) -> EncodedSplit:
    rng = np.random.default_rng(seed)
    x_cat = np.stack([rng.integers(0, c, size=rows) for c in CARDS], axis=1).astype(np.int32)
    x_num = rng.normal(size=(rows, 2)).astype(np.float32)
    logit = weights[0][x_cat[:, 0]] + weights[1][x_cat[:, 1]] + 0.5 * x_num[:, 0]
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return EncodedSplit(x_num=x_num, x_cat=x_cat, y=y.reshape(-1, 1))


def trap_dataset() -> EncodedDataset:
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=12), rng.normal(size=12)]
    schema = FeatureSchema(
        numeric=(NumericFeature("n0"), NumericFeature("n1")),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDS)),
    )
    valid = _split(4000, 2, weights)
    return EncodedDataset(
        name="trap",
        schema=schema,
        train=_split(16000, 1, weights),
        valid=valid,
        test=valid,
        protocol="random",
        synthetic=True,
    )


def _curve(data: EncodedDataset, seed: int, **train: object) -> list[float]:
    torch.manual_seed(seed)
    model = build_ranker(NeuralConfig(model=MODEL), data)
    cfg = TrainConfig(
        batch_size=256,
        max_epochs=4,
        patience=4,
        learning_rate=1e-3,
        embedding_learning_rate=3e-2,
        precision="fp32",
        **train,  # type: ignore[arg-type]
    )
    return [m.valid.auc for m in fit(model, data, cfg, TrainContext(seed=seed)).curve]


@pytest.mark.parametrize("seed", [0, 1])
def test_the_plain_model_degrades_after_epoch_one_and_reset_holds(seed: int) -> None:
    data = trap_dataset()
    plain = _curve(data, seed, embeddings=EmbeddingTraining(schedule=NoScheduleConfig()))
    reset = _curve(data, seed, embeddings=EmbeddingTraining(schedule=ResetConfig()))
    # Measured (seeds 0, 1): plain 0.764 -> 0.668 and 0.770 -> 0.681 over four epochs, its best
    # at epoch 1; reset 0.764 -> 0.775 and 0.770 -> 0.775.
    assert int(np.argmax(plain)) == 0
    assert plain[-1] < plain[0] - 0.05
    assert reset[-1] >= reset[0] - 0.005
    assert reset[-1] > plain[-1] + 0.05


def test_pretrained_frozen_tables_do_not_memorise() -> None:
    data = trap_dataset()
    frozen = _curve(
        data,
        0,
        pretrain=PretrainConfig(epochs=1, learning_rate=1e-2, batch_size=256, then="freeze"),
    )
    # Measured: 0.714, 0.755, 0.768, 0.774: contrastive tables carry no memorised labels, so
    # the ranker keeps improving where the plain one falls to 0.668.
    assert frozen[-1] > frozen[0]
    assert frozen[-1] > 0.75
