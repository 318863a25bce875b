"""An arm merged into the base: the merge rule, the constant space, the data check, the seeds."""

from __future__ import annotations

import functools
import tomllib
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.errors import HarnessError
from harness.families.neural import NEURAL
from harness.paths import shipped_folder
from harness.studies.arms import ArmPlan, arm_space, check_arm, merge_tree, pending_seeds
from harness.studies.base import preset_defaults
from harness.studies.files import load_study
from harness.study_pipeline import _with_teachers
from harness.tuning.space import (
    SearchSpace,
    config_to_dict,
    load_search_space,
    space_from_mapping,
)
from tests.planted import planted_dataset
from tests.studies.conftest import row

SHIPPED = shipped_folder("search_spaces") / "studies"

STUDY = """
description = "cross layers and rank"
factor = ["model.interaction", "model.tokenizer.numeric"]

[arms.deeper.model.interaction.cross]
layers = 3
[arms.no-flag.model.tokenizer.numeric.log1p]
missing_indicator = false
[arms.none.model.interaction]
kind = "none"
[arms.too-wide.model.interaction]
kind = "cross"
[arms.too-wide.model.interaction.cross]
rank = 1000
"""


def test_merge_replaces_values_and_a_table_that_names_its_kind() -> None:
    base = {
        "model": {
            "tokenizer": {"embedding_dim": 16, "numeric": {"kind": "log1p", "log1p": {"m": True}}},
            "interaction": {"kind": "cross", "cross": {"layers": 2, "rank": 8}},
        },
        "train": {"dims": [1, 2]},
    }
    arm = {
        "model": {
            "tokenizer": {"numeric": {"log1p": {"m": False}}},  # no kind: merged into the base's
            "interaction": {"kind": "cross", "cross": {"layers": 3}},  # a kind: replaces it
        }
    }
    merged = merge_tree(base, arm)
    assert merged == {
        "model": {
            "tokenizer": {"embedding_dim": 16, "numeric": {"kind": "log1p", "log1p": {"m": False}}},
            "interaction": {"kind": "cross", "cross": {"layers": 3}},
        },
        "train": {"dims": [1, 2]},
    }
    merged["train"]["dims"].append(3)
    assert base["train"]["dims"] == [1, 2]  # the base is not changed


def test_each_arm_is_the_base_with_its_factor_changed(tmp_path: Path, preset: SearchSpace) -> None:
    path = tmp_path / "cross.toml"
    path.write_text(STUDY)
    study = load_study(path)
    base = preset_defaults(preset, "no search")
    spaces = {a.name: arm_space(study, a, base) for a in study.arms}
    configs = {name: space.build_config({}) for name, space in spaces.items()}
    assert all(s.name == "tiny" and not s.params for s in spaces.values())
    assert len({s.fingerprint for s in spaces.values()}) == len(spaces)
    # The base's own values stay; only the factor changes.
    assert configs["deeper"].model.interaction.layers == 3
    assert configs["deeper"].model.backbone.dims == (16,)
    assert configs["deeper"].model.tokenizer.numeric.missing_indicator is True
    assert configs["no-flag"].model.tokenizer.numeric.missing_indicator is False
    assert configs["no-flag"].model.interaction.layers == base.config.model.interaction.layers
    assert configs["none"].model.interaction.kind == "none"
    # The same base and arm give the same space (a recorded seed is not run again).
    again = arm_space(study, study.arms[0], preset_defaults(preset, "no search"))
    assert again.fingerprint == spaces["deeper"].fingerprint


SHARED = """
description = "frequency clipping over 3 epochs, scored twice per epoch"
factor = "model.tokenizer.embedding.fused.min_count"
curves = true

[all.train]
max_epochs = 3
evals_per_epoch = 2
[all.model.tokenizer.embedding]
kind = "fused"

[arms.all-ids.model.tokenizer.embedding.fused]
min_count = 0
[arms.clipped.model.tokenizer.embedding.fused]
min_count = 5
"""


def test_all_is_merged_into_the_base_before_each_arm(tmp_path: Path, preset: SearchSpace) -> None:
    path = tmp_path / "clip.toml"
    path.write_text(SHARED)
    study = load_study(path)
    base = preset_defaults(preset, "no search")
    configs = {a.name: arm_space(study, a, base).build_config({}) for a in study.arms}
    for name, min_count in (("all-ids", 0), ("clipped", 5)):
        config = configs[name]
        assert (config.train.max_epochs, config.train.evals_per_epoch) == (3, 2)
        assert config.train.learning_rate == base.config.train.learning_rate  # the base's
        assert config.model.tokenizer.embedding.kind == "fused"
        # The arm's key lands in the part [all] named (a table without `kind` merges).
        assert config.model.tokenizer.embedding.min_count == min_count


def test_a_study_without_all_builds_the_spaces_it_built_before(
    tmp_path: Path, preset: SearchSpace
) -> None:
    path = tmp_path / "cross.toml"
    path.write_text(STUDY)
    study = load_study(path)
    base = preset_defaults(preset, "no search")
    for arm in study.arms:  # as `arm_space` merged before [all] existed: base, then the arm
        tree = merge_tree(config_to_dict(base.config), arm.tree)
        before = space_from_mapping(
            {"family": "neural", **tree}, name="tiny", where="before", family="neural"
        )
        assert arm_space(study, arm, base).fingerprint == before.fingerprint


@pytest.mark.parametrize("path", sorted(SHIPPED.glob("*.toml")), ids=lambda p: p.stem)
@pytest.mark.parametrize("which", ["dcnv2", "tiny"])
def test_every_arm_of_every_shipped_study_builds_on_a_base(
    path: Path, which: str, preset: SearchSpace
) -> None:
    space = (
        load_search_space(shipped_folder("search_spaces") / "dcnv2.toml")
        if which == "dcnv2"
        else preset
    )
    study = load_study(path)
    base = preset_defaults(space, "no search")
    for arm in study.arms:
        merged = arm_space(study, arm, base)
        config = config_to_dict(merged.build_config({}))
        for setting in (*study.shared_settings, *arm.settings):
            key, _, text = setting.partition(" = ")
            node: Any = config
            for part in key.split("."):
                node = node[part]
            assert node == tomllib.loads(f"v = {text}")["v"], (arm.name, setting)


def test_the_one_epoch_study_has_every_remedy_on_the_same_training() -> None:
    study = load_study(SHIPPED / "one-epoch.toml")
    assert study.curves
    assert [a.name for a in study.arms][:11] == [
        "plain",
        "reset",
        "freeze",
        "l2",
        "max-norm",
        "dropout",
        "min-count",
        "adagrad",
        "rowwise-adagrad",
        "pretrain",
        "pretrain-freeze",
    ]
    base = preset_defaults(load_search_space(shipped_folder("search_spaces") / "dcnv2.toml"), "")
    train = {a.name: arm_space(study, a, base).build_config({}).train for a in study.arms}
    embedding = {
        a.name: arm_space(study, a, base).build_config({}).model.tokenizer.embedding
        for a in study.arms
    }
    for t in train.values():  # several epochs, never stopped early, scored within each
        assert (t.max_epochs, t.patience, t.evals_per_epoch) == (4, 4, 4)
    plain = train["plain"]
    assert (plain.embeddings.optimizer.kind, plain.embeddings.schedule.kind) == (
        "sparse_adam",
        "none",
    )
    assert not (plain.embeddings.l2 or plain.embeddings.max_norm or plain.embeddings.dropout)
    assert plain.pretrain.epochs == 0 and embedding["plain"].min_count == 0
    assert train["reset"].embeddings.schedule.kind == "reset"
    assert train["freeze"].embeddings.schedule.after_epochs == 1
    assert train["l2"].embeddings.l2 > 0 and train["max-norm"].embeddings.max_norm > 0
    assert train["dropout"].embeddings.dropout > 0 and embedding["min-count"].min_count > 1
    for arm, kind in (("adagrad", "adagrad"), ("rowwise-adagrad", "rowwise_adagrad")):
        assert train[arm].embeddings.optimizer.kind == kind
        assert train[arm].embeddings.optimizer.learning_rate == 0.05
    assert (train["pretrain"].pretrain.epochs, train["pretrain"].pretrain.then) == (1, "finetune")
    assert train["pretrain-freeze"].pretrain.then == "freeze"
    assert all(e.kind == "fused" for e in embedding.values())


def test_an_arm_the_data_rejects_is_one_line_naming_the_study_and_arm(
    tmp_path: Path, preset: SearchSpace
) -> None:
    path = tmp_path / "cross.toml"
    path.write_text(STUDY)
    study = load_study(path)
    base = preset_defaults(preset, "no search")
    data = planted_dataset((8, 40), 64, 32)
    validate = functools.partial(NEURAL.validate, data=data)
    for arm in study.arms[:3]:
        check_arm(arm_space(study, arm, base), validate, against="planted")
    with pytest.raises(HarnessError) as e:
        check_arm(arm_space(study, study.arms[3], base), validate, against="planted")
    message = str(e.value)
    assert message.startswith(f"{path}: arm 'too-wide': impossible for planted: ")
    assert "rank" in message and "\n" not in message


def test_recorded_seeds_of_the_same_space_are_not_run_again() -> None:
    rows = [
        row("tiny", 0.7, seed=0, factor_study="s", arm="a", space_fingerprint="fp"),
        row(
            "tiny", 0.7, seed=1, factor_study="s", arm="a", space_fingerprint="fp", status="failed"
        ),
        row(
            "tiny",
            0.7,
            seed=2,
            factor_study="s",
            arm="a",
            space_fingerprint="fp",
            status="interrupted",
        ),
        row("tiny", 0.7, seed=3, factor_study="s", arm="a", space_fingerprint="old"),
        row("tiny", 0.7, seed=4, factor_study="s", arm="b", space_fingerprint="fp"),
        row("tiny", 0.7, seed=5, factor_study="t", arm="a", space_fingerprint="fp"),
        row("tiny", 0.7, seed=6, space_fingerprint="fp"),
        row(
            "tiny", 0.7, seed=7, factor_study="s", arm="a", space_fingerprint="fp", dataset="other"
        ),
    ]
    pending = pending_seeds(
        rows, dataset="data@1", study="s", arm="a", fingerprint="fp", seeds=range(9)
    )
    assert pending == (2, 3, 4, 5, 6, 7, 8)


def test_an_arm_whose_teacher_the_folder_cannot_give_is_left_out_with_a_line() -> None:
    study = load_study(SHIPPED / "one-epoch.toml")
    base = preset_defaults(load_search_space(shipped_folder("search_spaces") / "dcnv2.toml"), "")
    plans = [
        ArmPlan(study, a, base, arm_space(study, a, base), (0,), (0,))
        for a in study.arms
        if a.name in ("plain", "distill-gbdt")
    ]
    out = StringIO()
    kept = _with_teachers(plans, [], "data@1", "criteo", Console(file=out, width=400))
    assert [p.arm.name for p in kept] == ["plain"]
    said = out.getvalue()
    assert "one-epoch/distill-gbdt: not run: distillation from best-gbdt needs a GBDT" in said
    assert "harness run --suite criteo" in said
