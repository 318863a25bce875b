"""Every shipped neural preset takes dense vector features, as tokens and as flat columns.

Parametrized like ``test_presets.py`` over ``search_spaces/*.toml`` (low and high corner), on a
tiny two-task schema with two vector features (widths 24 and 8): the ranker builds, passes
``validate`` (the meta-device forward pass), gives logits of the right shape, takes a finite
step, and the loss's gradient reaches every vector feature's own parameters.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harness.data.schema import EncodedDataset, EncodedSplit
from harness.families.neural import NEURAL, NeuralConfig, build_ranker
from harness.models.tokenizer import Tokenizer, VectorInputs, VectorMode
from harness.training import make_loader, make_optimizers, train_step
from harness.tuning.space import load_search_space
from tests.models.vector_data import WIDTHS, vector_dataset

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"
NEURAL_PRESETS = sorted(p.stem for p in ROOT.glob("*.toml") if 'family = "neural"' in p.read_text())


def _two_tasks(data: EncodedDataset) -> EncodedDataset:
    def both(split: EncodedSplit) -> EncodedSplit:  # the label and its complement
        return replace(split, y=np.hstack([split.y, 1 - split.y]))

    schema = replace(data.schema, labels=("a", "b"))
    return replace(
        data, schema=schema, train=both(data.train), valid=both(data.valid), test=both(data.test)
    )


def _without_vectors(data: EncodedDataset) -> EncodedDataset:
    def plain(split: EncodedSplit) -> EncodedSplit:
        return replace(split, x_vec=None)

    schema = replace(data.schema, vectors=())
    return replace(
        data, schema=schema, train=plain(data.train), valid=plain(data.valid), test=plain(data.test)
    )


def _only(model: nn.Module, kind: type[nn.Module]) -> nn.Module:
    found = [m for m in model.modules() if isinstance(m, kind)]
    assert len(found) == 1, f"{len(found)} {kind.__name__} modules"
    return found[0]


@pytest.mark.parametrize("mode", ["tokens", "flat"])
@pytest.mark.parametrize("corner", [0, -1])
@pytest.mark.parametrize("name", NEURAL_PRESETS)
def test_preset_with_vector_features_builds_steps_and_trains_them(
    name: str, corner: int, mode: VectorMode
) -> None:
    space = load_search_space(ROOT / f"{name}.toml")
    config = space.config_at({p.name: p.ends()[corner] for p in space.params})
    assert isinstance(config, NeuralConfig)
    tokenizer = replace(config.model.tokenizer, vectors=mode)
    config = replace(config, model=replace(config.model, tokenizer=tokenizer))
    data = _two_tasks(vector_dataset(64, 16))
    NEURAL.validate(config, data)
    torch.manual_seed(0)
    model = build_ranker(config, data)

    vectors = _only(model, VectorInputs)
    assert isinstance(vectors, VectorInputs) and vectors.mode == mode
    # Against the same preset without vector features: one more token per vector feature
    # (numeric tokens still first), or the vectors' columns more in the dense part.
    tok, plain = (
        _only(model, Tokenizer),
        _only(build_ranker(config, _without_vectors(data)), Tokenizer),
    )
    assert isinstance(tok, Tokenizer) and isinstance(plain, Tokenizer)
    fields = (plain.tokens.fields if plain.tokens else 0) + (len(WIDTHS) if mode == "tokens" else 0)
    assert (tok.tokens.fields if tok.tokens else 0) == fields
    dense = plain.dense_width + (sum(WIDTHS) if mode == "flat" else 0)
    assert tok.dense_width == dense
    if tok.tokens and plain.tokens:
        assert tok.tokens.numeric_fields == plain.tokens.numeric_fields

    optimizers = make_optimizers(model, config.train)
    batch = next(iter(make_loader(data.train, 32, shuffle=True)))
    assert batch.x_vec is not None and batch.x_vec.shape == (32, sum(WIDTHS))
    assert model(batch.x_num, batch.x_cat, batch.x_vec).shape == (32, 2)
    loss = float(train_step(model, batch, optimizers))
    assert math.isfinite(loss) and loss > 0

    # The gradient reaches each feature's projection (tokens) or its norm (flat).
    own = vectors.maps if vectors.maps is not None else vectors.norms
    for k, part in enumerate(own):
        assert isinstance(part, nn.Linear | nn.LayerNorm)
        grad = part.weight.grad
        assert grad is not None and float(grad.abs().sum()) > 0, f"{name}: v{k} got no gradient"
