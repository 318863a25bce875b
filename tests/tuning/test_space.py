"""Search spaces: the shipped files load, every mistake is a one-line error naming file and key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest

from harness.errors import HarnessError
from harness.families.catboost import CatBoostConfig
from harness.families.lightgbm import LightGBMConfig
from harness.tuning.space import ChoiceParam, load_search_space

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"


@dataclass(frozen=True)
class StubDCNv2Config:
    """The DCNv2Config fields the dcnv2.toml was written against."""

    embedding_dim: int = 16
    cross_layers: int = 3
    cross_rank: int | None = None
    mlp_dims: tuple[int, ...] = (512, 256)
    dropout: float = 0.0
    learning_rate: float = 1e-3
    embedding_learning_rate: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 4096
    max_epochs: int = 3
    patience: int = 1
    numeric_encoding: str = "log1p"
    missing_indicator: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout=}")


def write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


LGB_HEAD = 'family = "lightgbm"\n[search]\n'


def test_shipped_gbdt_spaces_load() -> None:
    lgb = load_search_space(ROOT / "lightgbm.toml", family="lightgbm")
    assert lgb.config_type is LightGBMConfig
    assert "categorical" in lgb.names and "learning_rate" in lgb.names
    cb = load_search_space(ROOT / "catboost.toml")
    assert cb.config_type is CatBoostConfig and cb.family == "catboost"


def test_shipped_dcnv2_space_loads_against_its_fields() -> None:
    space = load_search_space(ROOT / "dcnv2.toml", config_type=StubDCNv2Config)
    mlp = next(p for p in space.params if p.name == "mlp_dims")
    assert isinstance(mlp, ChoiceParam)
    assert all(isinstance(label, str) for label in mlp.labels)
    config = space.build_config({"mlp_dims": mlp.labels[0]})
    assert config.mlp_dims == mlp.values[0] and isinstance(config.mlp_dims, tuple)


def test_shipped_dcnv2_space_loads_against_the_real_config() -> None:
    dcnv2 = pytest.importorskip("harness.families.dcnv2")
    load_search_space(ROOT / "dcnv2.toml", config_type=dcnv2.DCNv2Config)


def test_suggest_build_config_round_trip_with_list_choices(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'family = "dcnv2"\n[search]\n'
        "mlp_dims = { choice = [[512, 256], [256, 128, 64]] }\n"
        "dropout = { float = [0.0, 0.5] }\n"
        "cross_layers = { int = [1, 4] }\n"
        "learning_rate = { float = [1e-4, 1e-2], log = true }\n"
        '[fixed]\nbatch_size = 1024\nmax_epochs = 2\nnumeric_encoding = "log1p"\n',
    )
    space = load_search_space(path, config_type=StubDCNv2Config)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    seen_dims = set()
    for _ in range(12):
        trial = study.ask()
        params = space.suggest(trial)
        assert isinstance(params["mlp_dims"], str)  # Optuna stores a primitive label
        config = space.build_config(params)
        assert config.mlp_dims in {(512, 256), (256, 128, 64)}
        assert 0.0 <= config.dropout <= 0.5 and 1 <= config.cross_layers <= 4
        assert config.batch_size == 1024 and config.max_epochs == 2
        # The trial's stored params rebuild the same config: one source of truth.
        assert space.build_config(trial.params) == config
        seen_dims.add(config.mlp_dims)
        study.tell(trial, 0.5)
    assert len(seen_dims) == 2
    fixed = optuna.trial.FixedTrial({**params, "mlp_dims": "[256, 128, 64]"})
    assert space.build_config(space.suggest(fixed)).mlp_dims == (256, 128, 64)


def test_build_config_rejects_unknown_params(tmp_path: Path) -> None:
    space = load_search_space(write(tmp_path, LGB_HEAD + "num_leaves = { int = [4, 64] }\n"))
    with pytest.raises(ValueError, match="max_depth"):
        space.build_config({"max_depth": 3})


BAD_SPACES = {
    "unknown_param": (LGB_HEAD + "num_leaf = { int = [4, 64] }\n", "num_leaf", "num_leaves"),
    "empty_range": (LGB_HEAD + "num_leaves = { int = [8, 8] }\n", "num_leaves", "empty range"),
    "inverted_range": (
        LGB_HEAD + "learning_rate = { float = [0.3, 0.01] }\n",
        "learning_rate",
        "inverted",
    ),
    "log_nonpositive": (
        LGB_HEAD + "lambda_l2 = { float = [0.0, 10.0], log = true }\n",
        "lambda_l2",
        "low > 0",
    ),
    "empty_choice": (LGB_HEAD + "categorical = { choice = [] }\n", "categorical", "empty choice"),
    "misspelt_spec": (
        LGB_HEAD + "learning_rate = { flaot = [0.01, 0.3] }\n",
        "learning_rate",
        "did you mean 'float'",
    ),
    "not_a_table": (LGB_HEAD + "num_leaves = [4, 64]\n", "num_leaves", "inline table"),
    "in_both": (
        LGB_HEAD + "num_leaves = { int = [4, 64] }\n[fixed]\nnum_leaves = 31\n",
        "num_leaves",
        "also in [fixed]",
    ),
    "unknown_fixed": (
        LGB_HEAD + "num_leaves = { int = [4, 64] }\n[fixed]\nn_estimator = 10\n",
        "n_estimator",
        "n_estimators",
    ),
    "config_rejects_high_end": (
        LGB_HEAD + "learning_rate = { float = [0.1, 2.0] }\n",
        "learning_rate",
        "2.0",
    ),
    "config_rejects_choice": (
        LGB_HEAD + 'categorical = { choice = ["numeric", "onehot"] }\n',
        "categorical",
        "onehot",
    ),
    "config_rejects_fixed": (
        LGB_HEAD + "num_leaves = { int = [4, 64] }\n[fixed]\nn_estimators = 0\n",
        "n_estimators",
        "n_estimators",
    ),
    "float_range_for_int_field": (
        LGB_HEAD + "num_leaves = { float = [4.0, 64.0] }\n",
        "num_leaves",
        "int",
    ),
    "wrong_family_name": (
        'family = "xgboost"\n[search]\nnum_leaves = { int = [4, 64] }\n',
        "family",
        "xgboost",
    ),
    "unparsable": (LGB_HEAD + "num_leaves = { int = [4, 64 }\n", "", "not valid TOML"),
    "unknown_top_level": (
        LGB_HEAD + "num_leaves = { int = [4, 64] }\n[serach]\nx = 1\n",
        "serach",
        "top-level",
    ),
    "missing_family": ("[search]\nnum_leaves = { int = [4, 64] }\n", "family", "missing"),
    "nothing_to_search": ('family = "lightgbm"\n[fixed]\nnum_leaves = 31\n', "search", "no"),
}


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_bad_space_is_one_line_error_naming_file_and_key(tmp_path: Path, case: str) -> None:
    text, key, detail = BAD_SPACES[case]
    path = write(tmp_path, text, name=f"{case}.toml")
    with pytest.raises(HarnessError) as info:
        load_search_space(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert key in message
    assert detail in message


def test_file_for_another_family_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, 'family = "catboost"\n[search]\ndepth = { int = [4, 8] }\n')
    with pytest.raises(
        HarnessError, match=r"family: the file is for 'catboost', expected 'lightgbm'"
    ):
        load_search_space(path, family="lightgbm")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(HarnessError, match="not found"):
        load_search_space(tmp_path / "nope.toml")
