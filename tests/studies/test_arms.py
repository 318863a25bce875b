"""An arm merged into the base: the merge rule, the constant space, the data check, the seeds."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

from harness.errors import HarnessError
from harness.families.neural import NEURAL
from harness.studies.arms import arm_space, check_arm, merge_tree, pending_seeds
from harness.studies.base import preset_defaults
from harness.studies.files import load_study
from harness.tuning.space import SearchSpace
from tests.planted import planted_dataset
from tests.studies.conftest import row

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
