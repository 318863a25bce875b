"""A planted pure interaction: only the explicit interaction layers can learn it.

The label depends only on the product of two latent signs, one per value of each of two
categorical fields: ``y ~ Bernoulli(sigmoid(3 * s_a[c_a] * s_b[c_b]))`` with ``s_a, s_b`` random
±1 per value, exactly half of each sign (so every value of ``c_a`` alone, or ``c_b`` alone, has
click rate 1/2: no main effect). Three noise categorical fields and two noise numeric features
come along. The best possible AUC is about 0.95.

Every ranker here has the same tokenizer, **no backbone** and a linear head, so the only
non-linear part is the interaction layer. With ``none`` the ranker is logistic regression over
the embeddings, additive in the fields: it cannot represent the product and stays at chance.
Every other registered interaction (FM, DLRM dot, DCN-v2 cross, AutoInt, Hiformer, and any part
registered later) must learn it.

How the bounds were chosen (4000 training rows, 4000 test rows, 5 epochs without early
stopping, batch 128, learning rates 0.03, embeddings 8 wide with ``init_std = 0.3``; AutoInt
and Hiformer with one layer of 2 heads of 8 for speed). Test AUCs measured over training seeds
0-4 on this data (seed 0 is the one the test uses):

- ``none``: 0.494, 0.511, 0.514, 0.523, 0.507 (the AUC of a random score on 4000 rows has a
  standard deviation of about 0.009);
- ``fm``: 0.960, 0.961, 0.961, 0.963, 0.963; ``dot``: 0.960, 0.963, 0.957, 0.960, 0.962;
  ``cross``: 0.962, 0.962, 0.960, 0.962, 0.959; ``autoint``: 0.956, 0.961, 0.960, 0.964,
  0.962; ``hiformer``: 0.961, 0.960, 0.958, 0.959, 0.961.

Hence ``none`` < 0.56 and every learner > 0.85. Hiformer learns last: its validation AUC stays
near 0.5 for up to two epochs before it jumps to 0.94, which is why the runs take 5 epochs.
Its tests take about 2 s on 2 idle cores (not marked slow).
"""

from __future__ import annotations

import numpy as np
import pytest

from harness.data.schema import (
    CategoricalFeature,
    EncodedDataset,
    EncodedSplit,
    FeatureSchema,
    NumericFeature,
)
from harness.families.neural import NEURAL, NeuralConfig
from harness.fitting import FitResult, TrainContext
from harness.models.backbones import NoBackboneConfig
from harness.models.heads import LinearHeadConfig
from harness.models.interactions import (
    INTERACTIONS,
    AutoIntConfig,
    HiformerConfig,
    InteractionConfig,
    NoInteractionConfig,
)
from harness.models.ranker import RankerConfig
from harness.models.tokenizer import TokenizerConfig
from harness.training.config import TrainConfig
from tests.planted import in_memory_dataset

CARDINALITY = 20
NOISE_CARDINALITIES = (10, 10, 10)
WEIGHT = 3.0
CHANCE_BOUND = 0.56
LEARNED_BOUND = 0.85

# Smaller than the defaults, for speed; every other interaction runs with its defaults.
SMALL: dict[str, InteractionConfig] = {
    "autoint": AutoIntConfig(layers=1, heads=2, head_dim=8),
    "hiformer": HiformerConfig(layers=1, heads=2, head_dim=8),
}
TRAIN = TrainConfig(
    batch_size=128, max_epochs=5, patience=5, learning_rate=0.03, embedding_learning_rate=0.03
)


def planted_product_dataset(n_train: int, n_eval: int, seed: int = 0) -> EncodedDataset:
    """Labels from ``WEIGHT * s_a[c_a] * s_b[c_b]`` only (module docstring)."""
    rng = np.random.default_rng(seed)
    half = np.repeat([-1.0, 1.0], CARDINALITY // 2)
    s_a, s_b = rng.permutation(half), rng.permutation(half)

    def split(n: int) -> EncodedSplit:
        a = rng.integers(0, CARDINALITY, n)
        b = rng.integers(0, CARDINALITY, n)
        noise = [rng.integers(0, c, n) for c in NOISE_CARDINALITIES]
        x_cat = np.stack([a, b, *noise], axis=1).astype(np.int32)
        x_num = rng.normal(size=(n, 2)).astype(np.float32)
        logit = WEIGHT * s_a[a] * s_b[b]
        y = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
        return EncodedSplit(x_num=x_num, x_cat=x_cat, y=y[:, None])

    cards = (CARDINALITY, CARDINALITY, *NOISE_CARDINALITIES)
    schema = FeatureSchema(
        numeric=(NumericFeature("noise_0"), NumericFeature("noise_1")),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(cards)),
    )
    return in_memory_dataset("planted-product", schema, split, n_train, n_eval)


@pytest.fixture(scope="module")
def data() -> EncodedDataset:
    return planted_product_dataset(4000, 4000)


def _fit(interaction: InteractionConfig, data: EncodedDataset) -> FitResult:
    model = RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=8, init_std=0.3),
        interaction=interaction,
        backbone=NoBackboneConfig(),
        head=LinearHeadConfig(),
    )
    return NEURAL.fit(NeuralConfig(model=model, train=TRAIN), data, TrainContext(seed=0, threads=2))


def test_the_planted_signal_has_no_main_effect(data: EncodedDataset) -> None:
    # Each value of either field alone has click rate 1/2 (up to sampling noise).
    x_cat, y = data.train.x_cat, data.train.y[:, 0]
    for field in (0, 1):
        rates = [y[x_cat[:, field] == v].mean() for v in range(CARDINALITY)]
        assert max(abs(r - 0.5) for r in rates) < 0.15
    # Yet the pair decides the label: most pairs click at about 0.95 or 0.05.
    pair = x_cat[:, 0] * CARDINALITY + x_cat[:, 1]
    counts = np.bincount(pair, minlength=CARDINALITY**2)
    clicks = np.bincount(pair, weights=y, minlength=CARDINALITY**2)
    seen = counts > 0
    assert np.mean(np.abs(clicks[seen] / counts[seen] - 0.5)) > 0.35


def test_no_interaction_stays_at_chance(data: EncodedDataset) -> None:
    result = _fit(NoInteractionConfig(), data)
    assert result.test.auc < CHANCE_BOUND, result.test


LEARNERS = [
    pytest.param(SMALL.get(name, config_cls()), id=name)
    for name, config_cls in INTERACTIONS.items()
    if name != "none"
]


@pytest.mark.parametrize("interaction", LEARNERS)
def test_interaction_learns_the_planted_product(
    interaction: InteractionConfig, data: EncodedDataset
) -> None:
    result = _fit(interaction, data)
    assert result.test.auc > LEARNED_BOUND, result.test
