"""The neural family: its config tree, today's DCN-v2 as the default, meta checks, ``fit``."""

from __future__ import annotations

from dataclasses import replace

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
from harness.families.base import Family
from harness.families.neural import NEURAL, NeuralConfig, build_ranker
from harness.fitting import EpochMetrics, TrainContext
from harness.models import CrossNetV2, MLPConfig, Ranker, RankerConfig, TokenizerConfig
from harness.models.interactions import CrossConfig, FMConfig
from harness.training import TrainConfig
from harness.training.precision import resolve_precision

CARDS = (6, 6, 4)


def _split(rows: int, seed: int) -> EncodedSplit:
    rng = np.random.default_rng(seed)
    x_cat = np.stack([rng.integers(0, c, size=rows) for c in CARDS], axis=1).astype(np.int32)
    x_num = rng.normal(size=(rows, 2)).astype(np.float32)
    x_num[rng.random(x_num.shape) < 0.2] = np.nan
    y = ((x_cat[:, 0] % 2) ^ (x_cat[:, 1] % 2)).astype(np.float32).reshape(-1, 1)
    return EncodedSplit(x_num, x_cat, y)


def _dataset(rows: int = 2048) -> EncodedDataset:
    schema = FeatureSchema(
        numeric=(NumericFeature("n0"), NumericFeature("n1")),
        categorical=tuple(CategoricalFeature(f"c{j}", c) for j, c in enumerate(CARDS)),
    )
    return EncodedDataset(
        name="planted",
        schema=schema,
        train=_split(rows, 1),
        valid=_split(rows // 4, 2),
        test=_split(rows // 4, 3),
        protocol="random",
        synthetic=True,
    )


SMALL = NeuralConfig(
    model=RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=8),
        interaction=CrossConfig(layers=2),
        backbone=MLPConfig(dims=(32, 16)),
    ),
    train=TrainConfig(
        batch_size=128,
        max_epochs=3,
        patience=3,
        learning_rate=1e-2,
        embedding_learning_rate=3e-2,
    ),
)


def test_family_protocol_fields() -> None:
    family: Family = NEURAL
    assert family.name == "neural"
    assert family.kind == "neural"
    assert family.config_type is NeuralConfig


def test_defaults_are_todays_dcnv2() -> None:
    c = NeuralConfig()
    assert c.model.interaction == CrossConfig(layers=3, rank=0, experts=1)
    assert c.model.backbone == MLPConfig(dims=(512, 256))
    assert c.model.topology == "stacked" and not c.model.wide
    assert c.model.tokenizer.embedding_dim == 16
    assert c.model.tokenizer.numeric.kind == "log1p"
    assert c.train.batch_size == 4096


def test_default_parameter_count_on_a_criteo_shaped_schema() -> None:
    """The default (and the dcnv2 preset's architecture) is exactly the old DCN-v2 ranker.

    Built on the meta device: 26 tables of a million ids cost no memory there.
    """
    vocab = 1_000_000
    schema = FeatureSchema(
        numeric=tuple(NumericFeature(f"I{i}") for i in range(13)),
        categorical=tuple(CategoricalFeature(f"C{j}", vocab) for j in range(26)),
    )
    tiny = EncodedSplit(
        np.zeros((4, 13), np.float32), np.zeros((4, 26), np.int32), np.zeros((4, 1), np.float32)
    )
    data = EncodedDataset("criteo", schema, tiny, tiny, tiny, "sequential")
    with torch.device("meta"):
        model = build_ranker(NeuralConfig(), data)
    d = 13 * 2 + 26 * 16  # log1p value and missing flag per numeric feature, 26 x 16 embeddings
    assert model.d_input == d == 442
    expected = (
        26 * vocab * 16  # the fused table
        + 3 * (d * d + d)  # three full-rank cross layers
        + (d * 512 + 512)
        + (512 * 256 + 256)  # MLP 512-256
        + (256 + 1)  # linear head
    )
    assert sum(p.numel() for p in model.parameters()) == expected


def test_build_matches_the_schema() -> None:
    data = _dataset(64)
    model = build_ranker(SMALL, data)
    assert isinstance(model, Ranker)
    assert model.d_input == 2 * 2 + 3 * 8  # 2 numeric x (value, missing) + 3 fields x 8
    assert isinstance(model.interaction, CrossNetV2) and model.interaction.rank is None
    low = replace(SMALL, model=replace(SMALL.model, interaction=CrossConfig(layers=2, rank=4)))
    cross = build_ranker(low, data).interaction
    assert isinstance(cross, CrossNetV2) and cross.rank == 4
    logits = model(torch.from_numpy(data.valid.x_num), torch.from_numpy(data.valid.x_cat))
    assert logits.shape == (data.valid.n_rows, 1)


def test_validate_names_the_part_that_cannot_be_built() -> None:
    data = _dataset(64)
    NEURAL.validate(SMALL, data)
    too_wide = replace(SMALL, model=replace(SMALL.model, interaction=CrossConfig(rank=1000)))
    with pytest.raises(ValueError, match=r"interaction cross: rank must be .* got rank=1000"):
        NEURAL.validate(too_wide, data)
    weights = replace(SMALL, train=replace(SMALL.train, task_weights=(1.0, 1.0)))
    with pytest.raises(ValueError, match="task_weights has 2 weights but the data has 1 task"):
        NEURAL.validate(weights, data)


def test_validate_rejects_token_interactions_without_tokens() -> None:
    data = _dataset(64)
    numeric_only = replace(
        data,
        schema=replace(data.schema, categorical=()),
        **{
            s: replace(data.split(s), x_cat=np.zeros((data.split(s).n_rows, 0), np.int32))
            for s in ("train", "valid", "test")
        },
    )
    flat_fm = RankerConfig(tokenizer=TokenizerConfig(numeric_tokens="flat"), interaction=FMConfig())
    with pytest.raises(ValueError, match="takes field tokens but the tokenizer gives none"):
        NEURAL.validate(replace(SMALL, model=flat_fm), numeric_only)
    # With numeric tokens (the default for a token interaction) the same FM works.
    NEURAL.validate(replace(SMALL, model=RankerConfig(interaction=FMConfig())), numeric_only)


def test_validate_allocates_nothing() -> None:
    # A table of 10^9 ids x 64 would need 256 GB: on the meta device it is only checked.
    schema = FeatureSchema(numeric=(), categorical=(CategoricalFeature("huge", 10**9),))
    tiny = EncodedSplit(np.zeros((4, 0), np.float32), np.zeros((4, 1), np.int32), np.zeros((4, 1)))
    data = EncodedDataset("huge", schema, tiny, tiny, tiny, "sequential")
    config = replace(SMALL, model=replace(SMALL.model, tokenizer=TokenizerConfig(embedding_dim=64)))
    NEURAL.validate(config, data)


def test_family_fit_learns_and_reports() -> None:
    data = _dataset()
    epochs: list[EpochMetrics] = []
    result = NEURAL.fit(SMALL, data, TrainContext(seed=3, on_epoch=epochs.append))
    assert result.test.auc > 0.9
    assert len(result.curve) == len(epochs) == 3
    # The fit's own notes (the precision it ran in) follow the input width.
    cpu = torch.device("cpu")
    choice = resolve_precision(SMALL.train.precision, cpu, build_ranker(SMALL, data))
    assert result.notes == "; ".join(n for n in ("input_dim=28", choice.note) if n)
    again = NEURAL.fit(SMALL, data, TrainContext(seed=3))
    assert again.test == result.test
    assert [m.valid for m in again.curve] == [m.valid for m in result.curve]


def test_fit_reports_the_embeddings_footprint_with_every_epoch() -> None:
    data = _dataset(512)
    config = replace(SMALL, train=replace(SMALL.train, max_epochs=2, patience=2))
    epochs: list[EpochMetrics] = []
    result = NEURAL.fit(config, data, TrainContext(seed=0, on_epoch=epochs.append))
    size = build_ranker(config, data).embedding_footprint()
    assert size.params > 0 and size.bytes >= size.params
    assert (result.embedding_params, result.embedding_bytes) == (size.params, size.bytes)
    # Sent with each epoch, so a trial stopped before it ends still reports it.
    assert [(m.embedding_params, m.embedding_bytes) for m in epochs] == [
        (size.params, size.bytes)
    ] * 2
