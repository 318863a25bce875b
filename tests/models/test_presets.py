"""Every shipped neural preset (a search-space file) builds on a tiny schema and takes a step.

Parametrized over ``search_spaces/*.toml``: a new preset is tested by being shipped. Each preset
is taken at its low corner and its high corner (every range end, first and last choices), on a
tiny multi-task dataset so that multi-task heads are exercised too.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.families.neural import NeuralConfig, build_ranker
from harness.training import make_loader, make_optimizers, train_step
from harness.tuning.space import load_search_space
from tests.planted import planted_dataset

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"
NEURAL = sorted(p.stem for p in ROOT.glob("*.toml") if 'family = "neural"' in p.read_text())


def test_the_presets_the_issue_names_are_shipped() -> None:
    expected = {"fm", "deepfm", "dlrm", "dcnv2", "autoint", "hiformer", "mlp", "resnet", "neural"}
    assert expected <= set(NEURAL)


@pytest.mark.parametrize("name", NEURAL)
@pytest.mark.parametrize("corner", [0, -1])
def test_preset_builds_and_takes_a_finite_step(name: str, corner: int) -> None:
    space = load_search_space(ROOT / f"{name}.toml")
    values = {p.name: p.ends()[corner] for p in space.params}
    config = space.config_at(values)
    assert isinstance(config, NeuralConfig)
    single = planted_dataset([30] * 8, n_train=64, n_eval=16)
    data = replace(  # two tasks: the label and its complement
        single,
        schema=replace(single.schema, labels=("a", "b")),
        **{
            s: replace(single.split(s), y=np.hstack([single.split(s).y, 1 - single.split(s).y]))
            for s in ("train", "valid", "test")
        },
    )
    torch.manual_seed(0)
    model = build_ranker(config, data)
    optimizers = make_optimizers(model, config.train)
    batch = next(iter(make_loader(data.train, 32, shuffle=True)))
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    assert model(batch.x_num, batch.x_cat).shape == (32, 2)
    loss = float(train_step(model, batch, optimizers))
    assert math.isfinite(loss) and loss > 0
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert changed, f"{name}: no parameter moved after a step"
