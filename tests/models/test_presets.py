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


# Every remedy of the one-epoch phenomenon, searched: a table any preset's file can carry.
REMEDIES = {
    "evals_per_epoch": 2,
    "embeddings": {
        "l2": {"float": [0.0, 1e-3]},
        "max_norm": {"choice": [0.0, 1.0]},
        "dropout": {"float": [0.0, 0.2]},
        "optimizer": {
            "kind": {"choice": ["sparse_adam", "adagrad", "rowwise_adagrad"]},
            "adagrad": {"learning_rate": {"float": [1e-2, 1e-1], "log": True}},
            "rowwise_adagrad": {"learning_rate": {"float": [1e-2, 1e-1], "log": True}},
        },
        "schedule": {
            "kind": {"choice": ["none", "reset", "freeze"]},
            "freeze": {"after_epochs": {"int": [1, 2]}},
        },
    },
    "pretrain": {"epochs": {"int": [0, 1]}, "then": {"choice": ["finetune", "freeze"]}},
}


@pytest.mark.parametrize("name", NEURAL)
@pytest.mark.parametrize("corner", [0, -1])
def test_every_remedy_is_a_searchable_option_of_every_preset(name: str, corner: int) -> None:
    import tomllib

    from harness.fitting import TrainContext
    from harness.training import fit
    from harness.tuning.space import space_from_mapping

    path = ROOT / f"{name}.toml"
    tree = tomllib.loads(path.read_text())
    tree.setdefault("train", {}).update(REMEDIES)
    space = space_from_mapping(tree, name=name, where=str(path), family="neural")
    searched = {p.name for p in space.params}
    assert {
        "train.embeddings.l2",
        "train.embeddings.optimizer.kind",
        "train.embeddings.optimizer.rowwise_adagrad.learning_rate",
        "train.embeddings.schedule.kind",
        "train.embeddings.schedule.freeze.after_epochs",
        "train.pretrain.epochs",
    } <= searched
    values = {p.name: p.ends()[corner] for p in space.params}
    config = space.config_at(values)
    assert isinstance(config, NeuralConfig)
    emb = config.train.embeddings
    # The low corner is the plain model; the high one turns every remedy on.
    assert (emb.schedule.kind, emb.optimizer.kind) == (
        ("none", "sparse_adam") if corner == 0 else ("freeze", "rowwise_adagrad")
    )
    data = planted_dataset([30] * 8, n_train=64, n_eval=16)
    tiny = replace(config, train=replace(config.train, batch_size=16, max_epochs=2, patience=2))
    torch.manual_seed(0)
    result = fit(build_ranker(tiny, data), data, tiny.train, TrainContext())
    assert math.isfinite(result.valid.auc) or len(set(data.valid.y.ravel())) < 2
    assert all(len(m.evals) == 2 for m in result.curve)


@pytest.mark.parametrize("name", NEURAL)
def test_every_preset_takes_matryoshka_sizes(name: str) -> None:
    """``[train.matryoshka] sizes = [4]`` in any preset's file: the space loads, every corner
    validates against a tiny schema (4 is below every searched ``embedding_dim`` and a multiple
    of every searched multihash ``hashes``; ``size = "fixed"`` pinned where the file searches
    sizes), and a step trains."""
    import tomllib

    from harness.families.neural import NEURAL as FAMILY
    from harness.tuning.space import space_from_mapping

    path = ROOT / f"{name}.toml"
    tree = tomllib.loads(path.read_text())
    tree.setdefault("train", {})["matryoshka"] = {"sizes": [4], "weights": [0.5]}
    embedding = tree.get("model", {}).get("tokenizer", {}).get("embedding", {})
    for options in embedding.values():
        if isinstance(options, dict) and "size" in options:
            options["size"] = "fixed"
    space = space_from_mapping(tree, name=name, where=str(path), family="neural")
    data = planted_dataset([30] * 8, n_train=64, n_eval=16)
    for corner in (0, -1):
        config = space.config_at({p.name: p.ends()[corner] for p in space.params})
        assert isinstance(config, NeuralConfig)
        assert config.train.matryoshka.size_weights == ((4, 0.5),)
        FAMILY.validate(config, data)
        torch.manual_seed(0)
        model = build_ranker(config, data)
        optimizers = make_optimizers(model, config.train)
        batch = next(iter(make_loader(data.train, 32, shuffle=True)))
        loss = float(train_step(model, batch, optimizers, matryoshka=config.train.matryoshka))
        assert math.isfinite(loss) and loss > 0


def test_matryoshka_sizes_above_a_searched_embedding_dim_fail_validation() -> None:
    """fm searches ``embedding_dim`` down to 8: sizes [4, 8] fail at that corner, naming keys."""
    import tomllib

    from harness.families.neural import NEURAL as FAMILY
    from harness.tuning.space import space_from_mapping

    path = ROOT / "fm.toml"
    tree = tomllib.loads(path.read_text())
    tree.setdefault("train", {})["matryoshka"] = {"sizes": [4, 8]}
    space = space_from_mapping(tree, name="fm", where=str(path), family="neural")
    config = space.config_at({p.name: p.ends()[0] for p in space.params})
    assert config.model.tokenizer.embedding_dim == 8
    with pytest.raises(ValueError, match=r"train\.matryoshka\.sizes=\[4, 8\] must be below"):
        FAMILY.validate(config, planted_dataset([30] * 8, n_train=64, n_eval=16))
