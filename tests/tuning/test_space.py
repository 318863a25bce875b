"""Search spaces: define-by-run sampling, one source of truth, one-line errors naming file and key.

The shipped files and the checks against a dataset's schema are in ``test_space_schema.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
import pytest

from harness.errors import HarnessError
from harness.families.catboost import CatBoostConfig
from harness.families.lightgbm import LightGBMConfig
from harness.families.neural import NeuralConfig
from harness.models.backbones import MLPConfig
from harness.models.interactions import CrossConfig, FMConfig, NoInteractionConfig
from harness.registry import PartConfig
from harness.tuning.space import (
    ChoiceParam,
    FloatParam,
    IntParam,
    SearchSpace,
    config_to_dict,
    load_search_space,
    space_from_mapping,
)

ROOT = Path(__file__).resolve().parents[2] / "search_spaces"

optuna.logging.set_verbosity(optuna.logging.WARNING)


def write(tmp_path: Path, text: str, name: str = "space.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def load(tmp_path: Path, text: str, name: str = "space.toml", **kw: Any) -> SearchSpace:
    return load_search_space(write(tmp_path, text, name), **kw)


def value_at(config: Any, dotted: str) -> Any:
    """The value a dotted parameter name points at in a built config, or KeyError off its path.

    ``model.interaction.cross.layers`` reads ``config.model.interaction.layers`` when the
    interaction's kind is ``cross``; ``model.interaction.kind`` reads its kind.
    """
    obj = config
    for part in dotted.split("."):
        if isinstance(obj, PartConfig) and part == "kind":
            return obj.kind
        if isinstance(obj, PartConfig) and part == obj.kind:
            continue
        if not hasattr(obj, part):
            raise KeyError(dotted)
        obj = getattr(obj, part)
    return obj


# A neural space with a kind choice whose options have parameters of their own.
CROSS_OR_FM = """
family = "neural"
description = "cross or fm"

[model.tokenizer]
embedding_dim = { choice = [8, 16] }

[model.interaction]
kind = { choice = ["cross", "fm"] }
[model.interaction.cross]
layers = { int = [1, 4] }
rank = { choice = [0, 4] }
[model.interaction.fm]
pooling = { choice = ["sum", "vector"] }

[model.backbone]
kind = "mlp"
[model.backbone.mlp]
dims = { choice = [[32, 16], [64]] }
dropout = { float = [0.0, 0.3] }

[train]
learning_rate = { float = [1e-4, 1e-2], log = true }
max_epochs = 2
"""

COMMON = {
    "model.tokenizer.embedding_dim",
    "model.interaction.kind",
    "model.backbone.mlp.dims",
    "model.backbone.mlp.dropout",
    "train.learning_rate",
}
CROSS = {"model.interaction.cross.layers", "model.interaction.cross.rank"}
FM = {"model.interaction.fm.pooling"}


@pytest.fixture
def cross_or_fm(tmp_path: Path) -> SearchSpace:
    return load(tmp_path, CROSS_OR_FM, name="cross_or_fm.toml", family="neural")


def fm_params(**override: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "model.tokenizer.embedding_dim": 16,
        "model.interaction.kind": "fm",
        "model.interaction.fm.pooling": "vector",
        "model.backbone.mlp.dims": "[32, 16]",
        "model.backbone.mlp.dropout": 0.1,
        "train.learning_rate": 1e-3,
    }
    return {**params, **override}


# --- the tree -------------------------------------------------------------------------------


def test_space_lists_every_parameter_by_dotted_name_in_file_order(
    cross_or_fm: SearchSpace,
) -> None:
    assert cross_or_fm.name == "cross_or_fm" and cross_or_fm.family == "neural"
    assert cross_or_fm.config_type is NeuralConfig
    assert cross_or_fm.description == "cross or fm"
    assert cross_or_fm.names == (
        "model.tokenizer.embedding_dim",
        "model.interaction.kind",
        "model.interaction.cross.layers",
        "model.interaction.cross.rank",
        "model.interaction.fm.pooling",
        "model.backbone.mlp.dims",
        "model.backbone.mlp.dropout",
        "train.learning_rate",
    )
    params = {p.name: p for p in cross_or_fm.params}
    kind = params["model.interaction.kind"]
    assert isinstance(kind, ChoiceParam) and kind.labels == ("cross", "fm")
    assert params["model.interaction.cross.layers"] == IntParam(
        "model.interaction.cross.layers", 1, 4
    )
    lr = params["train.learning_rate"]
    assert isinstance(lr, FloatParam) and lr.log and (lr.low, lr.high) == (1e-4, 1e-2)
    dims = params["model.backbone.mlp.dims"]
    assert isinstance(dims, ChoiceParam)
    assert dims.labels == ("[32, 16]", "[64]") and dims.values == ((32, 16), (64,))


# --- define-by-run sampling -----------------------------------------------------------------


def test_sampling_asks_only_for_the_parameters_on_the_path_taken(
    cross_or_fm: SearchSpace,
) -> None:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    kinds: set[str] = set()
    dims: set[tuple[int, ...]] = set()
    for _ in range(40):
        trial = study.ask()
        config, labels = cross_or_fm.sample(trial)
        kind = trial.params["model.interaction.kind"]
        kinds.add(kind)
        # Exactly the parameters of the kind chosen were asked, none of the other kind's.
        assert set(trial.params) == COMMON | (CROSS if kind == "cross" else FM)
        assert set(trial.distributions) == set(trial.params)
        assert labels == trial.params
        assert isinstance(config, NeuralConfig)
        interaction = config.model.interaction
        if kind == "cross":
            assert isinstance(interaction, CrossConfig)
            assert interaction.layers == trial.params["model.interaction.cross.layers"]
            assert interaction.rank == trial.params["model.interaction.cross.rank"]
        else:
            assert isinstance(interaction, FMConfig)
            assert interaction.pooling == trial.params["model.interaction.fm.pooling"]
        # A list choice is stored as its JSON label and decodes to a tuple.
        label = trial.params["model.backbone.mlp.dims"]
        assert isinstance(label, str)
        backbone = config.model.backbone
        assert isinstance(backbone, MLPConfig)
        assert backbone.dims == tuple(json.loads(label)) and isinstance(backbone.dims, tuple)
        dims.add(backbone.dims)
        # Constants apply and unmentioned fields keep their defaults.
        assert config.train.max_epochs == 2
        assert config.train.batch_size == NeuralConfig().train.batch_size
        assert config.model.topology == "stacked"
        # One source of truth: the stored parameters rebuild exactly the sampled config.
        assert cross_or_fm.build_config(trial.params) == config
        study.tell(trial, 0.5)
    assert kinds == {"cross", "fm"}
    assert dims == {(32, 16), (64,)}


def test_suggest_asks_the_same_parameters_as_sample(cross_or_fm: SearchSpace) -> None:
    for seed in range(5):
        a = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        b = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
        config, labels = cross_or_fm.sample(a)
        assert cross_or_fm.suggest(b) == labels == a.params == b.params
        assert cross_or_fm.build_config(labels) == config


def test_fixed_trial_replays_given_parameters(cross_or_fm: SearchSpace) -> None:
    params = fm_params()
    config, labels = cross_or_fm.sample(optuna.trial.FixedTrial(params))
    assert labels == params
    assert config.model.interaction == FMConfig(pooling="vector")
    assert config.model.tokenizer.embedding_dim == 16
    assert config.model.backbone == MLPConfig(dims=(32, 16), dropout=0.1)
    assert config.train.learning_rate == 1e-3
    assert cross_or_fm.suggest(optuna.trial.FixedTrial(params)) == params
    assert cross_or_fm.build_config(params) == config
    # A cross trial with a FixedTrial: the fm parameter is not needed.
    cross = {k: v for k, v in params.items() if k not in FM}
    cross |= {
        "model.interaction.kind": "cross",
        "model.interaction.cross.layers": 2,
        "model.interaction.cross.rank": 4,
    }
    config, labels = cross_or_fm.sample(optuna.trial.FixedTrial(cross))
    assert config.model.interaction == CrossConfig(layers=2, rank=4)
    assert labels == cross


@dataclass(frozen=True)
class Pair:
    """A flat config that rejects one combination strictly inside its space (no corner)."""

    a: int = 0
    b: int = 0

    def __post_init__(self) -> None:
        if self.a == 2 and self.b == 2:
            raise ValueError("a = 2 and b = 2 together are rejected")


def test_a_rejected_combination_is_a_value_error_when_sampled(tmp_path: Path) -> None:
    path = write(tmp_path, 'family = "pair"\na = { int = [0, 4] }\nb = { int = [0, 4] }\n')
    space = load_search_space(path, config_type=Pair)  # every corner is fine
    trial = optuna.trial.FixedTrial({"a": 2, "b": 2})
    message = f"{path}: (top level): a = 2 and b = 2 together are rejected"
    with pytest.raises(ValueError) as info:
        space.sample(trial)
    assert str(info.value) == message
    with pytest.raises(ValueError) as info:
        space.build_config({"a": 2, "b": 2})
    assert str(info.value) == message
    # suggest leaves the rejection to the trial and returns what it sampled.
    assert space.suggest(optuna.trial.FixedTrial({"a": 2, "b": 2})) == {"a": 2, "b": 2}
    assert space.build_config({"a": 2, "b": 3}) == Pair(2, 3)


# --- build_config ---------------------------------------------------------------------------


BAD_PARAMS: dict[str, tuple[dict[str, Any], str, str]] = {
    "missing": (
        {k: v for k, v in fm_params().items() if k != "train.learning_rate"},
        "train.learning_rate",
        "missing",
    ),
    "missing_on_the_path": (
        {k: v for k, v in fm_params().items() if k not in FM},
        "model.interaction.fm.pooling",
        "missing",
    ),
    "off_the_path": (
        fm_params(**{"model.interaction.cross.layers": 2}),
        "model.interaction.cross.layers",
        "not on the path these parameters take",
    ),
    "not_in_the_space": (fm_params(**{"train.patience": 2}), "train.patience", "not in"),
    "int_out_of_range": (
        {
            **{k: v for k, v in fm_params().items() if k not in FM},
            "model.interaction.kind": "cross",
            "model.interaction.cross.layers": 9,
            "model.interaction.cross.rank": 0,
        },
        "model.interaction.cross.layers",
        "[1, 4]",
    ),
    "int_not_an_int": (
        {
            **{k: v for k, v in fm_params().items() if k not in FM},
            "model.interaction.kind": "cross",
            "model.interaction.cross.layers": 2.5,
            "model.interaction.cross.rank": 0,
        },
        "model.interaction.cross.layers",
        "not an integer",
    ),
    "float_out_of_range": (
        fm_params(**{"train.learning_rate": 0.5}),
        "train.learning_rate",
        "outside",
    ),
    "float_not_a_number": (
        fm_params(**{"model.backbone.mlp.dropout": "0.1"}),
        "model.backbone.mlp.dropout",
        "outside",
    ),
    "unknown_choice": (
        fm_params(**{"model.tokenizer.embedding_dim": 12}),
        "model.tokenizer.embedding_dim",
        "not one of the choices",
    ),
    "unknown_list_label": (
        fm_params(**{"model.backbone.mlp.dims": "[1, 2]"}),
        "model.backbone.mlp.dims",
        "not one of the choices",
    ),
    "registered_kind_not_in_the_choice": (
        fm_params(**{"model.interaction.kind": "dot"}),
        "model.interaction.kind",
        "not one of the choices",
    ),
    "choice_label_of_another_type": (
        fm_params(**{"model.tokenizer.embedding_dim": "16"}),
        "model.tokenizer.embedding_dim",
        "not one of the choices",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_build_config_rejects_bad_parameters_naming_them(
    cross_or_fm: SearchSpace, case: str
) -> None:
    params, name, detail = BAD_PARAMS[case]
    with pytest.raises(ValueError) as info:
        cross_or_fm.build_config(params)
    assert name in str(info.value) and detail in str(info.value)


def test_build_config_accepts_decoded_values(cross_or_fm: SearchSpace) -> None:
    """A list choice given as its value (a results row's decoded tuple) decodes to itself."""
    from_label = cross_or_fm.build_config(fm_params())
    assert cross_or_fm.build_config(fm_params(**{"model.backbone.mlp.dims": (32, 16)})) == (
        from_label
    )
    assert cross_or_fm.build_config(fm_params(**{"model.backbone.mlp.dims": [32, 16]})) == (
        from_label
    )


# --- one-line errors naming the file and the key ---------------------------------------------

LGB = 'family = "lightgbm"\n'
NEURAL = 'family = "neural"\n'
CROSS_SLOT = NEURAL + '[model.interaction]\nkind = "cross"\n'

BAD_SPACES: dict[str, tuple[str, str, str]] = {
    # unknown keys
    "unknown_key": (
        LGB + "num_leaf = { int = [4, 64] }\n",
        "num_leaf",
        "did you mean 'num_leaves'",
    ),
    "unknown_top_level_table": (NEURAL + "[modle]\nwide = true\n", "modle", "'model'"),
    "unknown_nested_key": (
        NEURAL + '[model.backbone]\nkind = "mlp"\n[model.backbone.mlp]\n'
        "dimz = { choice = [[64]] }\n",
        "model.backbone.mlp.dimz",
        "did you mean 'dims'",
    ),
    "unknown_key_in_a_struct": (
        NEURAL + "[train]\nlearning_rat = 0.001\n",
        "train.learning_rat",
        "did you mean 'learning_rate'",
    ),
    "description_not_a_string": (LGB + "description = 3\n", "description", "string"),
    # ranges
    "empty_range": (LGB + "num_leaves = { int = [8, 8] }\n", "num_leaves", "empty range"),
    "inverted_range": (
        CROSS_SLOT + "[model.interaction.cross]\nlayers = { int = [4, 1] }\n",
        "model.interaction.cross.layers",
        "inverted",
    ),
    "log_nonpositive": (
        LGB + "lambda_l2 = { float = [0.0, 10.0], log = true }\n",
        "lambda_l2",
        "low > 0",
    ),
    "log_not_a_bool": (
        LGB + 'lambda_l2 = { float = [0.1, 10.0], log = "yes" }\n',
        "lambda_l2",
        "log must be true or false",
    ),
    "step_with_log": (
        LGB + "lambda_l2 = { float = [0.1, 10.0], log = true, step = 0.1 }\n",
        "lambda_l2",
        "step and log",
    ),
    "step_not_positive": (
        LGB + "num_leaves = { int = [4, 64], step = 0 }\n",
        "num_leaves",
        "step must be a positive int",
    ),
    "bounds_not_a_pair": (
        LGB + "num_leaves = { int = [4, 16, 64] }\n",
        "num_leaves",
        "[low, high]",
    ),
    "float_bound_in_an_int_range": (
        LGB + "num_leaves = { int = [4, 64.5] }\n",
        "num_leaves",
        "int bounds",
    ),
    "float_range_for_int_field": (
        CROSS_SLOT + "[model.interaction.cross]\nlayers = { float = [1.0, 4.0] }\n",
        "model.interaction.cross.layers",
        "use { int = [...] }",
    ),
    "int_range_for_a_string_field": (
        LGB + "categorical = { int = [1, 2] }\n",
        "categorical",
        "does not fit the field",
    ),
    # spec keys
    "misspelt_spec_key": (
        LGB + "learning_rate = { flaot = [0.01, 0.3] }\n",
        "learning_rate",
        "did you mean 'float'",
    ),
    "two_spec_kinds": (
        LGB + "num_leaves = { int = [4, 64], choice = [8, 16] }\n",
        "num_leaves",
        "exactly one of float, int, choice",
    ),
    "no_spec_kind": (LGB + "num_leaves = { log = true }\n", "num_leaves", "exactly one"),
    # choices
    "empty_choice": (LGB + "categorical = { choice = [] }\n", "categorical", "empty choice"),
    "repeated_choice": (
        NEURAL + "[model.tokenizer]\nembedding_dim = { choice = [16, 32, 16] }\n",
        "model.tokenizer.embedding_dim",
        "repeated choice",
    ),
    "repeated_list_choice": (
        NEURAL + '[model.backbone]\nkind = "mlp"\n[model.backbone.mlp]\n'
        "dims = { choice = [[64, 32], [64, 32]] }\n",
        "model.backbone.mlp.dims",
        "repeated choice",
    ),
    "choice_not_a_list": (LGB + 'categorical = { choice = "native" }\n', "categorical", "list"),
    "step_on_a_choice": (
        LGB + "num_leaves = { choice = [8, 16], step = 2 }\n",
        "num_leaves",
        "does not apply to a choice",
    ),
    "choice_outside_a_literal": (
        LGB + 'categorical = { choice = ["numeric", "onehot"] }\n',
        "categorical",
        "choice 'onehot' does not fit",
    ),
    "choice_of_the_wrong_type": (
        NEURAL + '[model.tokenizer]\nembedding_dim = { choice = [16, "wide"] }\n',
        "model.tokenizer.embedding_dim",
        "choice 'wide' does not fit",
    ),
    # constants
    "constant_of_the_wrong_type": (
        NEURAL + '[model.tokenizer]\nembedding_dim = "big"\n',
        "model.tokenizer.embedding_dim",
        "does not fit the field (it takes int)",
    ),
    "constant_outside_a_literal": (
        NEURAL + '[model]\ntopology = "sideways"\n',
        "model.topology",
        "'stacked'",
    ),
    "bool_for_an_int_field": (LGB + "num_leaves = true\n", "num_leaves", "does not fit"),
    "tuple_of_the_wrong_type": (
        NEURAL + '[train]\ntask_weights = ["a"]\n',
        "train.task_weights",
        "does not fit",
    ),
    # slots and kinds
    "unknown_kind": (
        NEURAL + '[model.interaction]\nkind = "crosss"\n',
        "model.interaction.kind",
        "unknown interaction 'crosss'; did you mean 'cross'?",
    ),
    "kind_choice_unregistered": (
        NEURAL + '[model.interaction]\nkind = { choice = ["cross", "transformer"] }\n',
        "model.interaction.kind",
        "unknown interaction 'transformer'",
    ),
    "kind_not_a_name": (
        NEURAL + "[model.interaction]\nkind = { int = [1, 2] }\n",
        "model.interaction.kind",
        "does not fit",
    ),
    "sub_table_never_used": (
        CROSS_SLOT + '[model.interaction.fm]\npooling = "vector"\n',
        "model.interaction.fm",
        "never used, since kind is 'cross'",
    ),
    "sub_table_never_used_by_a_choice": (
        NEURAL + '[model.interaction]\nkind = { choice = ["cross", "fm"] }\n'
        "[model.interaction.dot]\nself_interaction = true\n",
        "model.interaction.dot",
        "never used",
    ),
    "sub_table_of_the_default_kind_only": (
        NEURAL + "[model.backbone.resnet]\nblocks = 2\n",
        "model.backbone.resnet",
        "never used, since kind is 'mlp'",
    ),
    "sub_table_not_a_kind": (
        CROSS_SLOT + "[model.interaction.crosss]\nlayers = 2\n",
        "model.interaction.crosss",
        "did you mean 'cross'",
    ),
    "sub_table_not_a_table": (
        CROSS_SLOT + "cross = 3\n",
        "model.interaction.cross",
        "must be a table",
    ),
    "slot_not_a_table": (
        NEURAL + '[model]\ninteraction = "cross"\n',
        "model.interaction",
        "must be a table with kind",
    ),
    "struct_not_a_table": (NEURAL + "model = 3\n", "model", "must be a table"),
    "nested_slot_unknown_kind": (
        NEURAL + '[model.tokenizer.numeric]\nkind = "log2p"\n',
        "model.tokenizer.numeric.kind",
        "unknown numeric",
    ),
    # the old format, families, TOML
    "old_search_table": (
        LGB + "[search]\nnum_leaves = { int = [4, 64] }\n",
        "[search]",
        "old format",
    ),
    "old_fixed_table": (NEURAL + "[fixed]\nbatch_size = 1024\n", "[fixed]", "old format"),
    "missing_family": ("num_leaves = { int = [4, 64] }\n", "family", "missing"),
    "family_not_a_string": ("family = 3\n", "family", "missing or not a string"),
    "unknown_family": (
        'family = "xgboost"\nnum_leaves = { int = [4, 64] }\n',
        "family",
        "unknown model family 'xgboost'",
    ),
    "invalid_toml": (LGB + "num_leaves = { int = [4, 64 }\n", "not valid TOML", "line 2"),
    # values the config rejects
    "config_rejects_high_end": (
        LGB + "learning_rate = { float = [0.1, 2.0] }\n",
        "learning_rate",
        "the config rejects 2.0",
    ),
    "config_rejects_constant": (
        LGB + "n_estimators = 0\n",
        "(top level)",
        "n_estimators must be >= 1",
    ),
    "config_rejects_constants_in_a_nested_table": (
        CROSS_SLOT + "[model.interaction.cross]\nexperts = 2\nrank = 0\n",
        "model.interaction.cross",
        "experts=2",
    ),
    "config_rejects_a_corner_in_a_nested_table": (
        CROSS_SLOT + "[model.interaction.cross]\nexperts = { int = [1, 2] }\n"
        "rank = { choice = [0, 8] }\n",
        "model.interaction.cross.experts",
        "the config rejects 2 (with the other parameters at their low ends): "
        "model.interaction.cross: experts=2",
    ),
    "config_rejects_a_low_end_in_a_struct": (
        NEURAL + "[train]\nlearning_rate = { float = [0.0, 0.1] }\n",
        "train",
        "TrainConfig.learning_rate must be positive, got 0.0 (every parameter at its low end)",
    ),
    "config_rejects_a_high_end_in_a_kind_sub_table": (
        NEURAL + '[model.backbone]\nkind = "mlp"\n[model.backbone.mlp]\n'
        "dropout = { float = [0.0, 1.0] }\n",
        "model.backbone.mlp.dropout",
        "the config rejects 1.0 (with the other parameters at their low ends): "
        "model.backbone.mlp: ",
    ),
    "config_rejects_a_value_under_one_kind_of_a_choice": (
        NEURAL + '[model.interaction]\nkind = { choice = ["none", "cross", "fm"] }\n'
        "[model.interaction.cross]\nexperts = 2\n",
        "model.interaction.kind",
        "model.interaction.cross: experts=2",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SPACES))
def test_bad_space_is_one_line_error_naming_file_and_key(tmp_path: Path, case: str) -> None:
    text, key, detail = BAD_SPACES[case]
    path = write(tmp_path, text, name=f"{case}.toml")
    with pytest.raises(HarnessError) as info:
        load_search_space(path)
    message = str(info.value)
    assert "\n" not in message
    # "<file>: <dotted key>: <what is wrong>"
    assert message.startswith(f"{path}: {key}: "), message
    assert detail in message[len(f"{path}: {key}: ") :], message


def test_a_top_level_rejection_at_a_mixed_corner_names_the_top_level(tmp_path: Path) -> None:
    @dataclass(frozen=True)
    class Pair:
        a: int = 1
        b: int = 0

        def __post_init__(self) -> None:
            if self.a == 2 and self.b == 0:
                raise ValueError("a = 2 needs b > 0")

    # Neither the all-low nor the all-high corner fails, only a = 2 with b low.
    path = write(tmp_path, 'family = "pair"\na = { int = [1, 2] }\nb = { int = [0, 1] }\n')
    with pytest.raises(HarnessError) as info:
        load_search_space(path, config_type=Pair)
    assert str(info.value) == (
        f"{path}: a: the config rejects 2 (with the other parameters at their low ends): "
        "(top level): a = 2 needs b > 0"
    )


def test_file_for_another_family_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, 'family = "catboost"\ndepth = { int = [4, 8] }\n')
    with pytest.raises(HarnessError) as info:
        load_search_space(path, family="lightgbm")
    assert str(info.value) == (f"{path}: family: the file is for 'catboost', expected 'lightgbm'")
    assert load_search_space(path, family="catboost").config_type is CatBoostConfig


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(HarnessError) as info:
        load_search_space(path)
    assert str(info.value) == f"{path}: search-space file not found"


def test_a_space_may_search_nothing(tmp_path: Path) -> None:
    space = load(tmp_path, LGB + "num_leaves = 31\n")
    assert space.params == ()
    assert space.build_config({}) == LightGBMConfig(num_leaves=31)


# --- fingerprint ----------------------------------------------------------------------------

FINGERPRINTED = """family = "lightgbm"
description = "first"
learning_rate = { float = [0.02, 0.3], log = true }
num_leaves = { int = [15, 255] }
n_estimators = 3000
"""
SAME_TRIALS = """# a comment
family   =   "lightgbm"   # the trainer
description = "a different description"

n_estimators = 3000   # rounds
num_leaves = {int=[15,255]}
learning_rate = { float = [ 0.02, 0.3 ], log = true }
"""


def test_fingerprint_ignores_comments_whitespace_order_and_description(tmp_path: Path) -> None:
    a = load(tmp_path, FINGERPRINTED, name="a.toml")
    b = load(tmp_path, SAME_TRIALS, name="b.toml")
    assert a.description != b.description
    assert len(a.fingerprint) == 12 and int(a.fingerprint, 16) >= 0
    assert a.fingerprint == b.fingerprint


BOTH_GBDTS = 'family = "lightgbm"\nlearning_rate = { float = [0.02, 0.3], log = true }\n'


@pytest.mark.parametrize(
    ("base", "old", "new"),
    [
        (FINGERPRINTED, "[0.02, 0.3]", "[0.02, 0.2]"),  # a range
        (FINGERPRINTED, "log = true", "log = false"),  # a spec option
        (FINGERPRINTED, "{ int = [15, 255] }", "{ choice = [15, 255] }"),  # a spec kind
        (FINGERPRINTED, "n_estimators = 3000", "n_estimators = 2000"),  # a constant
        (FINGERPRINTED, "3000\n", "3000\nmax_bin = 63\n"),  # a new constant
        (BOTH_GBDTS, '"lightgbm"', '"catboost"'),  # the family (the body fits both)
    ],
)
def test_fingerprint_changes_with_what_changes_trials(
    tmp_path: Path, base: str, old: str, new: str
) -> None:
    assert old in base
    a = load(tmp_path, base, name="a.toml")
    b = load(tmp_path, base.replace(old, new), name="b.toml")
    assert a.fingerprint != b.fingerprint


def test_fingerprint_of_a_nested_space(tmp_path: Path) -> None:
    a = load(tmp_path, CROSS_OR_FM, name="a.toml")
    narrower = CROSS_OR_FM.replace("layers = { int = [1, 4] }", "layers = { int = [1, 3] }")
    b = load(tmp_path, narrower, name="b.toml")
    # The same tables in another order, one of them as an inline table.
    tokenizer = "[model.tokenizer]\nembedding_dim = { choice = [8, 16] }\n"
    assert tokenizer in CROSS_OR_FM
    moved = CROSS_OR_FM.replace(tokenizer, "").replace(
        "[model.interaction]\n",
        "[model]\ntokenizer = { embedding_dim = { choice = [8, 16] } }\n[model.interaction]\n",
    )
    c = load(tmp_path, moved, name="c.toml")
    assert a.fingerprint != b.fingerprint
    assert a.fingerprint == c.fingerprint


# --- resolved configs as data ---------------------------------------------------------------

NEURAL_FILES = sorted(
    p for p in ROOT.glob("*.toml") if 'family = "neural"' in p.read_text(encoding="utf-8")
)


def test_there_are_neural_files_to_round_trip() -> None:
    assert len(NEURAL_FILES) >= 5


@pytest.mark.parametrize("path", NEURAL_FILES, ids=lambda p: p.stem)
def test_config_to_dict_rebuilds_a_sampled_config_exactly(path: Path) -> None:
    space = load_search_space(path, family="neural")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for i in range(4):
        config, _ = space.sample(study.ask())
        # A results row stores the config as JSON: tuples become lists there.
        data = json.loads(json.dumps(config_to_dict(config)))
        fixed = space_from_mapping(
            {"family": "neural", **data}, name=f"{path.stem}-row{i}", where=f"row {i}"
        )
        assert fixed.params == ()
        assert fixed.name == f"{path.stem}-row{i}" and fixed.path == f"row {i}"
        assert fixed.build_config({}) == config


def test_config_to_dict_lays_a_slot_out_as_kind_and_sub_table() -> None:
    data = config_to_dict(NeuralConfig())
    interaction = data["model"]["interaction"]
    assert interaction["kind"] == "cross" and set(interaction) == {"kind", "cross"}
    assert interaction["cross"] == {"layers": 3, "rank": 0, "experts": 1}
    assert data["model"]["backbone"]["mlp"]["dims"] == [512, 256]
    assert data["train"]["task_weights"] == []
    flat = config_to_dict(LightGBMConfig(num_leaves=31))
    assert flat["num_leaves"] == 31 and flat["max_train_rows"] is None
    space = space_from_mapping({"family": "lightgbm", **flat}, name="row", where="row")
    assert space.build_config({}) == LightGBMConfig(num_leaves=31)


# --- corners --------------------------------------------------------------------------------

THREE_KINDS = """
family = "neural"
[model.tokenizer]
embedding_dim = { choice = [8, 16] }
[model.interaction]
kind = { choice = ["none", "fm", "cross"] }
[model.interaction.fm]
pooling = { choice = ["sum", "vector"] }
[model.interaction.cross]
layers = { int = [1, 3] }
"""


def test_corners_reach_every_kind_and_the_parameters_of_the_middle_one(tmp_path: Path) -> None:
    space = load(tmp_path, THREE_KINDS)
    corners = list(space.corners())
    configs = [config for _, config in corners]
    assert len({repr(c) for c in configs}) == len(configs)  # each distinct config once
    interactions = {c.model.interaction for c in configs}
    assert NoInteractionConfig() in interactions
    assert FMConfig(pooling="sum") in interactions
    assert FMConfig(pooling="vector") in interactions  # lives only under the middle kind
    assert CrossConfig(layers=1) in interactions and CrossConfig(layers=3) in interactions
    assert {c.model.tokenizer.embedding_dim for c in configs} == {8, 16}
    whats = [what for what, _ in corners]
    assert whats[0] == "every parameter at its low end"
    assert "model.interaction.fm.pooling = 'vector' (others low)" in whats
    assert configs[0].model.interaction == NoInteractionConfig()
    assert configs[0].model.tokenizer.embedding_dim == 8


def test_corners_of_a_nested_choice_reach_every_value_of_every_parameter() -> None:
    """Every end of every range and every choice of ``neural.toml`` is in some corner config."""
    space = load_search_space(ROOT / "neural.toml")
    configs = [config for _, config in space.corners()]
    assert len({repr(c) for c in configs}) == len(configs)
    for param in space.params:
        reached = set()
        for config in configs:
            try:
                reached.add(value_at(config, param.name))
            except KeyError:
                continue
        assert set(param.ends()) <= reached, param.name


def test_corners_of_a_space_without_parameters_is_its_one_config(tmp_path: Path) -> None:
    corners = list(load(tmp_path, LGB + "num_leaves = 31\n").corners())
    assert corners == [("every parameter at its low end", LightGBMConfig(num_leaves=31))]


def test_check_runs_the_callers_check_at_every_corner(tmp_path: Path) -> None:
    space = load(tmp_path, THREE_KINDS, name="three.toml")
    seen: list[Any] = []
    assert space.check(seen.append, against="anything") == len(list(space.corners()))
    assert seen == [config for _, config in space.corners()]

    def no_vector_fm(config: Any) -> None:
        if config.model.interaction == FMConfig(pooling="vector"):
            raise ValueError("vector pooling is not\nsupported here")

    with pytest.raises(HarnessError) as info:
        space.check(no_vector_fm, against="the test schema")
    path = tmp_path / "three.toml"
    assert str(info.value) == (
        f"{path}: model.interaction.fm.pooling = 'vector' (others low): impossible for the "
        "test schema: vector pooling is not supported here"
    )


# --- flat GBDT files ------------------------------------------------------------------------


def params_of(space: SearchSpace, seed: int) -> Mapping[str, Any]:
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed)).ask()
    space.suggest(trial)
    return trial.params


def test_shipped_lightgbm_space_builds_lightgbm_configs() -> None:
    space = load_search_space(ROOT / "lightgbm.toml", family="lightgbm")
    assert space.config_type is LightGBMConfig and space.family == "lightgbm"
    assert {"categorical", "learning_rate", "num_leaves"} <= set(space.names)
    categorical = next(p for p in space.params if p.name == "categorical")
    assert isinstance(categorical, ChoiceParam) and categorical.values == ("numeric", "native")
    seen = set()
    for seed in range(6):
        params = params_of(space, seed)
        config = space.build_config(params)
        assert isinstance(config, LightGBMConfig)
        assert config.n_estimators == 3000 and config.early_stopping_rounds == 100
        assert config.rounds_per_epoch == 50 and config.max_bin == 255
        assert config.learning_rate == params["learning_rate"]
        assert 0.02 <= config.learning_rate <= 0.3
        assert config.categorical == params["categorical"]
        assert config.max_depth == LightGBMConfig().max_depth  # not in the file: the default
        seen.add(config.categorical)
    assert seen == {"numeric", "native"}


def test_shipped_catboost_space_builds_catboost_configs() -> None:
    space = load_search_space(ROOT / "catboost.toml", family="catboost")
    assert space.config_type is CatBoostConfig
    config = space.build_config(params_of(space, 0))
    assert isinstance(config, CatBoostConfig)
    assert config.iterations == 2000 and config.border_count == 254
    assert config.max_ctr_complexity in (1, 2)
