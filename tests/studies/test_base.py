"""The base of a study: the best complete neural trial of the folder, else a preset's defaults."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from harness.errors import HarnessError
from harness.families.neural import NeuralConfig
from harness.results.table import TrialResult
from harness.studies.base import DEFAULT_PRESET, StudyBase, choose_base, preset_defaults
from harness.tuning.space import SearchSpace
from tests.studies.conftest import row


def _choose(
    rows: Sequence[TrialResult], preset: SearchSpace | None, fallback: SearchSpace
) -> StudyBase:
    return choose_base(
        rows,
        dataset="data@1",
        neural_families={"neural"},
        preset=preset,
        load_preset=lambda _name: fallback,
    )


def test_the_best_complete_trial_by_validation_auc_is_the_base(preset: SearchSpace) -> None:
    rows = [
        row("dcnv2", 0.70, dim=4),
        row("deepfm", 0.74, dim=16),  # the best neural model
        row("deepfm", 0.73, dim=32),
        row("deepfm", 0.90, status="pruned", dim=64),  # not complete
        row("deepfm", None, status="failed"),
        row("deepfm", 0.95, dim=2, factor_study="s", arm="a"),  # a study's trial: never a base
        row("deepfm", 0.96, dim=2, dataset="other@2"),  # other data
        row("lightgbm", 0.99, family="lightgbm"),  # not neural
    ]
    base = _choose(rows, None, preset)
    assert base.preset == "deepfm" and base.family == "neural"
    assert isinstance(base.config, NeuralConfig)
    assert base.config.model.tokenizer.embedding_dim == 16
    assert base.config.train.max_epochs == 1
    assert base.source.startswith("the best deepfm trial by validation AUC in this run folder")
    assert "0.7400; trial 3 of criteo/deepfm@abcdef12, seed 0" in base.source


def test_models_names_the_preset_whose_best_trial_is_the_base(preset: SearchSpace) -> None:
    rows = [row("deepfm", 0.74, dim=16), row("tiny", 0.71, dim=4), row("tiny", 0.72, dim=8)]
    base = _choose(rows, preset, preset)
    assert (base.preset, base.config.model.tokenizer.embedding_dim) == ("tiny", 8)


def test_without_a_complete_trial_the_base_is_the_presets_defaults(preset: SearchSpace) -> None:
    rows = [row("tiny", 0.8, status="pruned"), row("deepfm", 0.74)]
    base = _choose(rows, preset, preset)
    assert base.preset == "tiny"
    assert base.source.startswith(f"tiny's defaults (tiny@{preset.fingerprint[:8]}")
    assert base.source.endswith("no complete tiny trial in this run folder yet")
    # The file's constants; each searched value at its config's default; a searched kind at
    # its first choice.
    config = base.config
    default = NeuralConfig()
    assert config.model.tokenizer.numeric_tokens == "flat"
    assert config.model.backbone.dims == (16,) and config.train.max_epochs == 1
    assert config.model.tokenizer.embedding_dim == default.model.tokenizer.embedding_dim
    assert config.train.learning_rate == default.train.learning_rate
    assert config.model.interaction.kind == "cross"
    assert config.model.interaction.layers == default.model.interaction.layers  # type: ignore[attr-defined]


def test_with_no_search_at_all_the_base_is_dcnv2s_defaults(preset: SearchSpace) -> None:
    loaded: list[str] = []

    def load(name: str) -> SearchSpace:
        loaded.append(name)
        return preset

    base = choose_base(
        [], dataset="data@1", neural_families={"neural"}, preset=None, load_preset=load
    )
    assert loaded == [DEFAULT_PRESET]
    assert base.source.endswith("no complete neural trial in this run folder yet")


def test_a_trial_whose_config_no_longer_builds_is_one_line(preset: SearchSpace) -> None:
    stale = row("tiny", 0.8)
    stale = TrialResult(**{**vars(stale), "config": '{"model": {"tokenizer": {"dimm": 3}}}'})
    with pytest.raises(HarnessError) as e:
        choose_base(
            [stale],
            dataset="data@1",
            neural_families={"neural"},
            preset=None,
            load_preset=lambda _n: preset,
            results="runs/x/results.parquet",
        )
    assert "runs/x/results.parquet: trial tiny-0.8-complete-8 (tiny)" in str(e.value)
    assert "model.tokenizer.dimm: unknown parameter" in str(e.value)


def test_preset_defaults_say_why(preset: SearchSpace) -> None:
    assert preset_defaults(preset, "because").source.endswith(": because")
