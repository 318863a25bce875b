"""The DCN-v2 family: config validation, model building, and ``fit`` through the protocol."""

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
from harness.families.base import Family
from harness.families.dcnv2 import DCNV2, DCNv2Config, build_dcnv2
from harness.fitting import EpochMetrics, TrainContext
from harness.models import CrossNetV2, DCNv2Ranker

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


SMALL = {
    "embedding_dim": 8,
    "cross_layers": 2,
    "mlp_dims": [32, 16],
    "batch_size": 128,
    "max_epochs": 3,
    "patience": 3,
    "learning_rate": 1e-2,
    "embedding_learning_rate": 3e-2,
}


def test_family_protocol_fields() -> None:
    family: Family = DCNV2
    assert family.name == "dcnv2"
    assert family.kind == "neural"
    assert family.config_type is DCNv2Config


def test_defaults_match_the_reference_architecture() -> None:
    c = DCNv2Config()
    assert (c.embedding_dim, c.cross_layers, c.cross_rank, c.mlp_dims) == (16, 3, None, (512, 256))
    assert c.batch_size == 4096 and c.numeric_encoding == "log1p" and c.missing_indicator


def test_lists_from_toml_become_tuples_and_rank_zero_means_full() -> None:
    c = DCNv2Config(mlp_dims=[64, 32], cross_rank=0)  # type: ignore[arg-type]
    assert c.mlp_dims == (64, 32)
    assert c.cross_rank is None
    assert hash(c) == hash(DCNv2Config(mlp_dims=(64, 32)))
    assert DCNv2Config(mlp_dims=[]).mlp_dims == ()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("embedding_dim", 0),
        ("embedding_dim", 2.5),
        ("cross_layers", -1),
        ("cross_rank", -2),
        ("mlp_dims", [64, 0]),
        ("mlp_dims", "64"),
        ("dropout", 1.0),
        ("activation", "swish!"),
        ("numeric_encoding", "quantile-magic"),
        ("missing_indicator", "yes"),
        ("learning_rate", 0.0),
        ("embedding_learning_rate", 2.0),
        ("weight_decay", -0.1),
        ("batch_size", 0),
        ("batch_size", True),
        ("max_epochs", 0),
        ("patience", 0),
        ("loader", "disk"),
        ("block_rows", 0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"{field}.*{value!r}|{field}="):
        DCNv2Config(**{field: value})  # type: ignore[arg-type]


def test_build_matches_the_schema() -> None:
    data = _dataset(64)
    model = build_dcnv2(DCNv2Config(**SMALL), data.schema, data.train.x_num)  # type: ignore[arg-type]
    assert isinstance(model, DCNv2Ranker)
    assert model.d_input == 2 * 2 + 3 * 8  # 2 numeric x (value, missing) + 3 fields x 8
    no_indicator = DCNv2Config(**{**SMALL, "missing_indicator": False})  # type: ignore[arg-type]
    assert build_dcnv2(no_indicator, data.schema, data.train.x_num).d_input == 2 + 3 * 8
    low = DCNv2Config(**{**SMALL, "cross_rank": 4})  # type: ignore[arg-type]
    cross = build_dcnv2(low, data.schema, data.train.x_num).interaction
    assert isinstance(cross, CrossNetV2) and cross.rank == 4
    logits = model(torch.from_numpy(data.valid.x_num), torch.from_numpy(data.valid.x_cat))
    assert logits.shape == (data.valid.n_rows, 1)


def test_build_rejects_a_rank_above_the_input_width() -> None:
    data = _dataset(64)
    config = DCNv2Config(**{**SMALL, "cross_rank": 1000})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rank=1000"):
        build_dcnv2(config, data.schema, data.train.x_num)


def test_family_fit_learns_and_reports() -> None:
    data = _dataset()
    epochs: list[EpochMetrics] = []
    config = DCNv2Config(**SMALL)  # type: ignore[arg-type]
    result = DCNV2.fit(config, data, TrainContext(seed=3, on_epoch=epochs.append))
    assert result.test.auc > 0.9
    assert len(result.curve) == len(epochs) == 3
    assert result.notes == "input_dim=28"
    again = DCNV2.fit(config, data, TrainContext(seed=3))
    assert again.test == result.test
    assert [m.valid for m in again.curve] == [m.valid for m in result.curve]
