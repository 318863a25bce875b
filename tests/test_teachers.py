"""Teachers: the folder's trial a name stands for, scores computed once and reused, their record,
one-line errors when no trial can teach, and the scores reaching a student."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.families.lightgbm import LIGHTGBM, LightGBMConfig
from harness.families.neural import NeuralConfig
from harness.fitting import FitResult, TrainContext
from harness.metrics import binary_metrics
from harness.models import MLPConfig, RankerConfig, TokenizerConfig
from harness.models.interactions import CrossConfig
from harness.results.table import TrialResult
from harness.teachers import check_teachers, find_teacher, prepare_teachers, teachers_asked
from harness.training import TrainConfig
from harness.training.distill import (
    DistillConfig,
    TeacherInfo,
    load_teacher_info,
    prepare_distillation,
    teacher_files,
)
from harness.tuning.space import SearchSpace, config_to_dict, space_from_mapping
from tests.planted import planted_dataset

DATA_ID = "planted-cache-1"
LGB = LightGBMConfig(n_estimators=60, num_leaves=7, early_stopping_rounds=10, rounds_per_epoch=10)
NEURAL_CONFIG = NeuralConfig(
    model=RankerConfig(
        tokenizer=TokenizerConfig(embedding_dim=4),
        interaction=CrossConfig(layers=1),
        backbone=MLPConfig(dims=(8,)),
    ),
    train=TrainConfig(batch_size=128, max_epochs=1),
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def data() -> EncodedDataset:
    return planted_dataset((12, 300), 600, 200, seed=0)


def _row(
    model: str = "lightgbm",
    config: Any = LGB,
    *,
    family: str | None = None,
    valid_auc: float = 0.8,
    trial: int = 3,
    dataset: str = DATA_ID,
    **kw: Any,
) -> TrialResult:
    family = family or ("neural" if isinstance(config, NeuralConfig) else model)
    return TrialResult(
        suite="planted",
        dataset=dataset,
        protocol="random",
        family=family,
        study=f"planted/{model}@abc",
        trial_id=f"t{trial}",
        study_trial=trial,
        params="{}",
        seed=0,
        status="complete",
        valid_auc=valid_auc,
        test_auc=valid_auc,
        model=model,
        config=json.dumps(config_to_dict(config)),
        **kw,
    )


def _distilled(teacher: str) -> NeuralConfig:
    return replace(
        NEURAL_CONFIG, train=replace(NEURAL_CONFIG.train, distill=DistillConfig(teacher))
    )


def _space(name: str, tree: dict[str, Any]) -> SearchSpace:
    return space_from_mapping(tree, name=name, where=f"{name}.toml")


def test_a_name_stands_for_the_best_search_trial_of_its_kind() -> None:
    rows = [
        _row(valid_auc=0.80, trial=3),
        _row(valid_auc=0.90, trial=4, repeat_of="planted/lightgbm@abc#3"),  # a repeat
        _row(valid_auc=0.95, trial=5, dataset="other-data"),
        _row(valid_auc=0.99, trial=6, factor_study="s", arm="a"),  # a study's arm
        _row("catboost", config=LGB, family="catboost", valid_auc=0.82, trial=7),
        _row("dcnv2", config=NEURAL_CONFIG, valid_auc=0.70, trial=8),
        _row("mlp", config=_distilled("best-gbdt"), valid_auc=0.97, trial=9),  # distilled
    ]
    names = ("best-gbdt", "best-neural", "lightgbm", "dcnv2")
    pick = {n: find_teacher(n, rows, dataset_id=DATA_ID).study_trial for n in names}
    assert pick == {"best-gbdt": 7, "best-neural": 8, "lightgbm": 3, "dcnv2": 8}


def test_no_trial_to_teach_is_a_one_line_error() -> None:
    with pytest.raises(HarnessError) as e:
        find_teacher("best-gbdt", [_row("dcnv2", NEURAL_CONFIG)], dataset_id=DATA_ID, suite="c")
    assert str(e.value).startswith("distillation from best-gbdt needs a GBDT search trial")
    assert "run the search first (harness run --suite c)" in str(e.value)
    assert "\n" not in str(e.value)
    with pytest.raises(HarnessError, match=r"trial of model 'deepfm'.*--models deepfm"):
        find_teacher("deepfm", [_row()], dataset_id=DATA_ID)
    with pytest.raises(HarnessError, match="needs a neural search trial"):
        find_teacher("best-neural", [_row("mlp", _distilled("lightgbm"))], dataset_id=DATA_ID)


def test_the_teachers_a_space_asks_for_include_each_searched_choice() -> None:
    student = _space(
        "student",
        {
            "family": "neural",
            "train": {"distill": {"teacher": {"choice": ["", "best-gbdt", "lightgbm"]}}},
        },
    )
    plain = _space("plain", {"family": "lightgbm", "learning_rate": {"float": [0.02, 0.3]}})
    assert teachers_asked([plain]) == ()
    assert teachers_asked([plain, student]) == ("best-gbdt", "lightgbm")


def test_a_run_is_checked_for_teachers_before_any_trial() -> None:
    student = _space(
        "student", {"family": "neural", "train": {"distill": {"teacher": "best-gbdt"}}}
    )
    gbdt = _space("lightgbm", {"family": "lightgbm"})
    check_teachers([gbdt, student], [], dataset_id=DATA_ID)  # the GBDT is searched first
    check_teachers([student], [_row()], dataset_id=DATA_ID)  # the folder has one
    with pytest.raises(HarnessError, match="needs a GBDT search trial"):
        check_teachers([student, gbdt], [], dataset_id=DATA_ID)


@pytest.fixture
def counted_fits(monkeypatch: pytest.MonkeyPatch) -> list[FitResult]:
    fits: list[FitResult] = []
    real = LIGHTGBM.fit

    def fit(config: Any, data: EncodedDataset, ctx: TrainContext) -> FitResult:
        fits.append(real(config, data, ctx))
        return fits[-1]

    monkeypatch.setattr(LIGHTGBM, "fit", fit)
    return fits


def test_scores_are_computed_once_per_folder_and_recorded(
    data: EncodedDataset, tmp_path: Path, counted_fits: list[FitResult]
) -> None:
    rows = [_row(valid_auc=0.8, trial=3), _row("dcnv2", NEURAL_CONFIG, valid_auc=0.9, trial=4)]
    (info,) = prepare_teachers(["best-gbdt"], tmp_path, data, rows, dataset_id=DATA_ID)
    assert len(counted_fits) == 1
    scores_path, info_path = teacher_files(tmp_path, "best-gbdt")
    scores = np.load(scores_path)
    assert scores.dtype == np.float32 and scores.shape == (data.train.n_rows,)
    assert np.array_equal(scores, counted_fits[0].test_scores)
    # A teacher of the training rows: it ranks their labels (they were what it learnt).
    assert binary_metrics(data.train.y[:, 0], scores).auc > 0.8
    assert load_teacher_info(tmp_path, "best-gbdt") == info
    assert json.loads(info_path.read_text()) | {"seconds": 0} == {
        "teacher": "best-gbdt",
        "model": "lightgbm",
        "family": "lightgbm",
        "trial": "planted/lightgbm@abc#3",
        "trial_number": 3,
        "seed": 0,
        "valid_auc": 0.8,
        "refit_valid_auc": counted_fits[0].valid.auc,
        "dataset": DATA_ID,
        "rows": data.train.n_rows,
        "seconds": 0,
    }

    again = prepare_teachers(["best-gbdt", "best-gbdt"], tmp_path, data, rows, dataset_id=DATA_ID)
    assert again == [info] and len(counted_fits) == 1  # reused, not refitted

    prepare_teachers(["best-gbdt"], tmp_path, data, [_row(dataset="new")], dataset_id="new")
    assert len(counted_fits) == 2  # other data: computed anew


def test_the_scores_reach_the_student(
    data: EncodedDataset, tmp_path: Path, counted_fits: list[FitResult]
) -> None:
    (info,) = prepare_teachers(["lightgbm"], tmp_path, data, [_row()], dataset_id=DATA_ID)
    student = prepare_distillation(
        DistillConfig(teacher="lightgbm", weight=0.5),
        data,
        TrainContext(teachers_dir=str(tmp_path)),
        None,
    )
    assert np.array_equal(student.train.y[:, 1], counted_fits[0].test_scores)
    assert np.array_equal(student.train.y[:, 0], data.train.y[:, 0])
    assert student.note == (
        f"distilled from lightgbm (lightgbm trial 3, valid AUC {info.refit_valid_auc:.4f}), "
        "weight 0.5"
    )


def test_a_neural_teacher_scores_every_training_row(data: EncodedDataset, tmp_path: Path) -> None:
    rows = [_row("dcnv2", NEURAL_CONFIG, trial=2), _row()]
    (info,) = prepare_teachers(
        ["best-neural"], tmp_path, data, rows, dataset_id=DATA_ID, device="cpu", threads=1
    )
    assert isinstance(info, TeacherInfo) and info.model == "dcnv2" and info.trial_number == 2
    scores = np.load(teacher_files(tmp_path, "best-neural")[0])
    assert scores.shape == (data.train.n_rows,)
    assert ((scores > 0) & (scores < 1)).all()
