"""Search spaces against data: every shipped file fits a small schema; an impossible corner fails.

``check_against_data`` builds every corner of a space on torch's meta device against the
dataset's schema, so an impossible rank or width is a one-line error before any trial runs.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import optuna
import pytest

from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.families.registry import get_family
from harness.pipeline import check_against_data
from harness.tuning.space import SearchSpace, load_search_space
from tests.planted import planted_dataset

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"
SHIPPED = sorted(ROOT.glob("*.toml"))

optuna.logging.set_verbosity(optuna.logging.WARNING)

# The smallest planted schema every shipped file fits: 3 numeric and 8 categorical features,
# grouped (lightgbm-rank.toml ranks within groups). dcnv2.toml's rank 128 needs a flat input of
# 128 (6 numeric channels + 8 * 16); hiformer.toml's rank 64 needs 4 field tokens at heads = 1,
# head_dim = 16.
SMALL_CATEGORICAL = 8


@pytest.fixture(scope="module")
def small() -> EncodedDataset:
    return planted_dataset([50] * SMALL_CATEGORICAL, n_train=256, n_eval=64, group_size=16)


@pytest.fixture(scope="module")
def tiny() -> EncodedDataset:
    """3 numeric and 6 categorical features: a flat input of 102 at embedding_dim 16."""
    return planted_dataset([50] * 6, n_train=128, n_eval=32)


def write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_folder_has_every_family() -> None:
    families = {tomllib.loads(p.read_text(encoding="utf-8"))["family"] for p in SHIPPED}
    assert families == {"lightgbm", "catboost", "neural"}


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_shipped_space_loads_with_its_family_and_fits_a_small_schema(
    path: Path, small: EncodedDataset
) -> None:
    family = tomllib.loads(path.read_text(encoding="utf-8"))["family"]
    space = load_search_space(path, family=family)
    assert space.name == path.stem and space.family == family
    assert space.config_type is get_family(family).config_type
    assert space.description and space.params
    corners = list(space.corners())
    assert len(corners) >= 2
    assert check_against_data([space], small) == len(corners)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_sampled_shipped_configs_rebuild_and_fit_the_schema(
    path: Path, small: EncodedDataset
) -> None:
    space = load_search_space(path)
    family = get_family(space.family)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=2))
    for _ in range(4):
        trial = study.ask()
        config, labels = space.sample(trial)
        assert labels == trial.params
        assert space.build_config(trial.params) == config
        family.validate(config, data=small)
        study.tell(trial, 0.5)


def neural_space(tmp_path: Path, body: str, name: str = "space.toml") -> SearchSpace:
    return load_search_space(write(tmp_path, 'family = "neural"\n' + body, name))


def check_message(space: SearchSpace, data: EncodedDataset) -> str:
    with pytest.raises(HarnessError) as info:
        check_against_data([space], data)
    message = str(info.value)
    assert "\n" not in message
    return message


SCHEMA = "impossible for planted (synthetic) (3 numeric, 6 categorical, 1 task(s)): "


def test_a_rank_above_the_input_width_names_the_file_and_the_key(
    tmp_path: Path, tiny: EncodedDataset
) -> None:
    space = neural_space(
        tmp_path,
        '[model.interaction]\nkind = "cross"\n[model.interaction.cross]\n'
        "layers = { int = [1, 3] }\nrank = { choice = [0, 4096] }\n",
        name="wide_rank.toml",
    )
    message = check_message(space, tiny)
    assert message.startswith(
        f"{space.path}: model.interaction.cross.rank = 4096 (others low): {SCHEMA}"
    )
    assert "interaction cross: rank must be 0 (full rank) or in [1, d_in=102], got rank=4096" in (
        message
    )


def test_a_rank_that_fits_passes(tmp_path: Path, tiny: EncodedDataset) -> None:
    space = neural_space(
        tmp_path,
        '[model.interaction]\nkind = "cross"\n[model.interaction.cross]\n'
        "rank = { choice = [0, 102] }\n",
    )
    assert check_against_data([space], tiny) == 2


def test_a_constant_that_cannot_fit_fails_at_the_first_corner(
    tmp_path: Path, tiny: EncodedDataset
) -> None:
    space = neural_space(
        tmp_path,
        '[model.interaction]\nkind = "cross"\n[model.interaction.cross]\nrank = 4096\n'
        "[train]\nlearning_rate = { float = [1e-4, 1e-2], log = true }\n",
    )
    message = check_message(space, tiny)
    assert message.startswith(f"{space.path}: every parameter at its low end: {SCHEMA}")
    assert "interaction cross: rank" in message and "rank=4096" in message


def test_a_width_that_fits_only_some_embedding_dims_names_the_key(
    tmp_path: Path, tiny: EncodedDataset
) -> None:
    # rank 102 fits embedding_dim 16 (6 + 6 * 16 = 102) but not 8 (6 + 6 * 8 = 54).
    space = neural_space(
        tmp_path,
        "[model.tokenizer]\nembedding_dim = { choice = [16, 8] }\n"
        '[model.interaction]\nkind = "cross"\n[model.interaction.cross]\nrank = 102\n',
    )
    message = check_message(space, tiny)
    assert message.startswith(
        f"{space.path}: model.tokenizer.embedding_dim = 8 (others low): {SCHEMA}"
    )
    assert "d_in=54" in message


def test_a_token_interaction_without_enough_tokens_names_the_kind(tmp_path: Path) -> None:
    one_id = planted_dataset([50], n_train=64, n_eval=16)
    space = neural_space(
        tmp_path,
        '[model.tokenizer]\nnumeric_tokens = "flat"\n'
        '[model.interaction]\nkind = { choice = ["none", "fm"] }\n',
    )
    message = check_message(space, one_id)
    assert message.startswith(f"{space.path}: model.interaction.kind = 'fm' (others low): ")
    assert "(3 numeric, 1 categorical, 1 task(s))" in message
    assert "fm needs at least 2 field tokens" in message
    # With a token per numeric feature the same space fits.
    per_feature = neural_space(
        tmp_path,
        '[model.tokenizer]\nnumeric_tokens = "per_feature"\n'
        '[model.interaction]\nkind = { choice = ["none", "fm"] }\n',
        name="per_feature.toml",
    )
    assert check_against_data([per_feature], one_id) == 2


def test_task_weights_of_the_wrong_length_name_the_key(
    tmp_path: Path, tiny: EncodedDataset
) -> None:
    space = neural_space(tmp_path, "[train]\ntask_weights = { choice = [[1.0], [1.0, 2.0]] }\n")
    message = check_message(space, tiny)
    assert message.startswith(f"{space.path}: train.task_weights = [1.0, 2.0] (others low): ")
    assert "train.task_weights has 2 weights but the data has 1 tasks" in message


def test_check_against_data_counts_every_corner_of_every_space(
    tmp_path: Path, tiny: EncodedDataset
) -> None:
    spaces = [
        neural_space(tmp_path, "[model.tokenizer]\nembedding_dim = { choice = [8, 16] }\n"),
        load_search_space(ROOT / "lightgbm.toml"),
    ]
    expected = sum(len(list(s.corners())) for s in spaces)
    assert expected > 2
    assert check_against_data(spaces, tiny) == expected


def test_default_models_that_do_not_fit_are_left_out_with_a_note(tiny: EncodedDataset) -> None:
    from rich.console import Console

    from harness.pipeline import _fitting_defaults

    spaces = [load_search_space(ROOT / f"{name}.toml") for name in ("lightgbm", "dcnv2", "fm")]
    console = Console(record=True, width=400)
    kept, checked = _fitting_defaults(spaces, tiny, console)
    # dcnv2.toml's rank 128 needs a flat input of 128; tiny's is 102.
    assert [s.name for s in kept] == ["lightgbm", "fm"]
    assert checked == sum(len(list(s.corners())) for s in kept)
    note = console.export_text()
    assert note.startswith("dcnv2 left out: it does not fit this dataset (")
    assert "model.interaction.cross.rank" in note
    with pytest.raises(HarnessError, match=r"none of the default models fits .*; pass --models"):
        _fitting_defaults(spaces[1:2], tiny, console)


def test_local_models_add_to_the_shipped_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.pipeline import available_models, load_models, search_space_dirs

    local = tmp_path / "search_spaces"
    local.mkdir()
    (local / "mine.toml").write_text((ROOT / "mlp.toml").read_text())
    (local / "lightgbm.toml").write_text((ROOT / "lightgbm.toml").read_text())  # hides shipped
    monkeypatch.chdir(tmp_path)
    folders = search_space_dirs()
    assert folders == [Path("search_spaces"), ROOT]
    assert {"mine", "lightgbm", "dcnv2", "catboost"} <= set(available_models(folders))
    mine, lightgbm, dcnv2 = load_models(["mine", "lightgbm", "dcnv2"], folders)
    assert (mine.name, mine.family, mine.path) == ("mine", "neural", "search_spaces/mine.toml")
    assert lightgbm.path == "search_spaces/lightgbm.toml"
    assert dcnv2.path == str(ROOT / "dcnv2.toml")
    # An explicit folder is the only one looked in.
    with pytest.raises(HarnessError, match=r"no model 'dcnv2': .*; models: lightgbm, mine"):
        load_models(["dcnv2"], search_space_dirs(local))
