"""Distillation: the student moves toward its teacher, the loss is the documented mix, the
teacher's column stays with its rows, the auxiliary head is scored without its extra output."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from harness.data.schema import EncodedDataset, EncodedSplit
from harness.errors import HarnessError
from harness.families.neural import NEURAL, NeuralConfig, build_ranker
from harness.fitting import TrainContext
from harness.models import MLPConfig, RankerConfig, TokenizerConfig
from harness.models.heads import MMoEConfig
from harness.models.interactions import CrossConfig
from harness.training import TrainConfig, fit, make_loader, predict
from harness.training.distill import (
    AuxiliaryOutput,
    DistillConfig,
    TeacherInfo,
    distill_loss,
    prepare_distillation,
    teacher_files,
)
from harness.training.losses import task_loss

CPU = torch.device("cpu")
MODEL = RankerConfig(
    tokenizer=TokenizerConfig(embedding_dim=8),
    interaction=CrossConfig(layers=2),
    backbone=MLPConfig(dims=(32, 16)),
)
TEACHER = "teacher"
OFF = DistillConfig()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _train_config(distill: DistillConfig = OFF, **kw: object) -> TrainConfig:
    base: dict[str, object] = {
        "batch_size": 128,
        "max_epochs": 4,
        "patience": 4,
        "learning_rate": 1e-2,
        "embedding_learning_rate": 3e-2,
    }
    return TrainConfig(**{**base, **kw, "distill": distill})  # type: ignore[arg-type]


def _model(data: EncodedDataset, train: TrainConfig, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_ranker(NeuralConfig(model=MODEL, train=train), data)


def _teacher_of(split: EncodedSplit) -> np.ndarray:
    # Sure of parity(c0) alone, where the labels are parity(c0) XOR parity(c1): a teacher that
    # disagrees with the labels on half the rows, so only learning from it gets close to it.
    return np.where(split.x_cat[:, 0] % 2 == 0, 0.9, 0.1).astype(np.float32)


def _save_teacher(folder: Path, scores: np.ndarray, name: str = TEACHER) -> str:
    path, _ = teacher_files(folder, name)
    np.save(path, scores.astype(np.float32))
    return str(folder)


def _distance(model: nn.Module, split: EncodedSplit) -> float:
    probs = predict(model, split, CPU)
    assert probs.shape == (split.n_rows, 1)
    return float(np.abs(probs[:, 0] - _teacher_of(split)).mean())


def _bce(logit: float, target: float) -> float:
    p = 1.0 / (1.0 + math.exp(-logit))
    return -(target * math.log(p) + (1.0 - target) * math.log(1.0 - p))


def test_label_weight_0_moves_the_student_toward_the_teacher(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path
) -> None:
    data = make_dataset(2048)
    ctx = TrainContext(teachers_dir=_save_teacher(tmp_path, _teacher_of(data.train)))
    taught = _train_config(DistillConfig(teacher=TEACHER, weight=1.0))
    student = _model(data, taught)
    before = _distance(student, data.valid)
    result = fit(student, data, taught, ctx)
    after = _distance(student, data.valid)

    plain = _train_config()
    labels_only = _model(data, plain)
    fit(labels_only, data, plain, TrainContext())
    apart = _distance(labels_only, data.valid)

    # Measured: 0.40 before, 0.014 after, 0.40 for the student of the labels alone.
    assert after < 0.1 < 0.3 < before
    assert after < apart - 0.3
    assert f"distilled from {TEACHER}, weight 1" in result.notes


def test_the_loss_by_hand() -> None:
    logits = torch.tensor([[0.0], [2.0]])
    y = torch.tensor([[1.0, 0.8], [0.0, 0.3]])
    loss = distill_loss(1, 0.25)(logits, y)
    labels = (_bce(0.0, 1.0) + _bce(2.0, 0.0)) / 2
    taught = (_bce(0.0, 0.8) + _bce(2.0, 0.3)) / 2
    assert float(loss) == pytest.approx(0.75 * labels + 0.25 * taught, rel=1e-6)


def test_the_auxiliary_loss_by_hand_keeps_the_labels_at_full_weight() -> None:
    # Two tasks weighted 1 and 3, the teacher's logit last.
    logits = torch.tensor([[0.0, 1.0, -1.0], [2.0, -0.5, 0.5]])
    y = torch.tensor([[1.0, 0.0, 0.8], [0.0, 1.0, 0.3]])
    loss = distill_loss(2, 0.25, auxiliary_head=True, task_weights=torch.tensor([1.0, 3.0]))(
        logits, y
    )
    task0 = (_bce(0.0, 1.0) + _bce(2.0, 0.0)) / 2
    task1 = (_bce(1.0, 0.0) + _bce(-0.5, 1.0)) / 2
    taught = (_bce(-1.0, 0.8) + _bce(0.5, 0.3)) / 2
    assert float(loss) == pytest.approx((task0 + 3 * task1) / 4 + 0.25 * taught, rel=1e-6)


def test_the_loss_refuses_logits_without_the_teachers_column() -> None:
    with pytest.raises(ValueError, match="logits of 2 columns"):
        distill_loss(1, 0.5, auxiliary_head=True)(torch.zeros(4, 1), torch.zeros(4, 2))


def _memory_mapped(split: EncodedSplit, folder: Path) -> EncodedSplit:
    arrays = {}
    for name in ("x_num", "x_cat", "y"):
        np.save(folder / f"{name}.npy", getattr(split, name))
        arrays[name] = np.load(folder / f"{name}.npy", mmap_mode="r")
    return EncodedSplit(**arrays)


@pytest.mark.parametrize("mode", ["memory", "blocks"])
def test_the_teachers_column_stays_with_its_rows_after_shuffling(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path, mode: str
) -> None:
    data = make_dataset(1000)
    if mode == "blocks":
        data = replace(data, train=_memory_mapped(data.train, tmp_path))
    # The teacher is a function of a feature, so a row's score can be checked against its row.
    scores = data.train.x_cat[:, 2].astype(np.float32) / 10
    ctx = TrainContext(teachers_dir=_save_teacher(tmp_path, scores))
    student = prepare_distillation(DistillConfig(teacher=TEACHER), data, ctx, None)
    assert student.train.y.shape == (1000, 2)
    loader = make_loader(student.train, 64, shuffle=True, seed=3, mode=mode, block_rows=256)  # type: ignore[arg-type]
    assert loader.mode == mode
    seen = 0
    for batch in loader:
        assert torch.allclose(batch.y[:, 1], batch.x_cat[:, 2].float() / 10)
        seen += len(batch)
    assert seen == 1000


def test_a_teacher_equal_to_the_labels_gives_the_plain_loss(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path
) -> None:
    data = make_dataset(512)
    ctx = TrainContext(teachers_dir=_save_teacher(tmp_path, data.train.y[:, 0]))
    student = prepare_distillation(DistillConfig(teacher=TEACHER, weight=0.3), data, ctx, None)
    assert student.loss_fn is not None
    torch.manual_seed(0)
    for batch in make_loader(student.train, 100, shuffle=True, seed=1, mode="memory"):
        logits = torch.randn(len(batch), 1)
        plain = task_loss(logits, batch.y[:, :1])
        assert float(student.loss_fn(logits, batch.y)) == pytest.approx(float(plain), rel=1e-5)


def test_off_is_the_plain_training_split_and_loss(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(256)
    student = prepare_distillation(DistillConfig(weight=1.0), data, TrainContext(), None)
    assert student.train is data.train
    assert student.loss_fn is None and student.note == ""


def test_the_auxiliary_head_learns_the_teacher_and_is_not_scored(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path
) -> None:
    data = make_dataset(2048)
    ctx = TrainContext(teachers_dir=_save_teacher(tmp_path, _teacher_of(data.train)))
    train = _train_config(DistillConfig(teacher=TEACHER, weight=1.0, auxiliary_head=True))
    NEURAL.validate(NeuralConfig(model=MODEL, train=train), data)
    model = _model(data, train)
    assert isinstance(model, AuxiliaryOutput)
    x_num, x_cat = torch.from_numpy(data.valid.x_num), torch.from_numpy(data.valid.x_cat).long()
    assert model(x_num, x_cat).shape == (data.valid.n_rows, 2)
    result = fit(model, data, train, ctx)

    # The tasks' output learnt the labels at full weight: validation ranks them well.
    assert result.valid.auc > 0.9
    assert predict(model, data.valid, CPU).shape == (data.valid.n_rows, 1)
    model.train()
    with torch.no_grad():
        aux = torch.sigmoid(model(x_num, x_cat)[:, 1]).numpy()
    # The extra output learnt the teacher (measured: 0.05 from it).
    assert np.abs(aux - _teacher_of(data.valid)).mean() < 0.1
    assert "auxiliary head" in result.notes


def test_a_multi_task_head_gets_one_more_output_for_the_teacher(
    make_dataset: Callable[..., EncodedDataset],
) -> None:
    data = make_dataset(64)
    data = replace(data, schema=replace(data.schema, labels=("click", "buy")))
    data = replace(
        data, train=replace(data.train, y=np.repeat(np.asarray(data.train.y), 2, axis=1))
    )
    model_config = replace(MODEL, head=MMoEConfig(experts=2, expert_dims=(8,), tower_dims=(4,)))
    train = TrainConfig(distill=DistillConfig(teacher=TEACHER, auxiliary_head=True))
    config = NeuralConfig(model=model_config, train=train)
    NEURAL.validate(config, data)
    model = build_ranker(config, data)
    x = (torch.zeros(3, data.schema.n_num), torch.zeros(3, data.schema.n_cat, dtype=torch.long))
    assert model(*x).shape == (3, 3)
    assert model.eval()(*x).shape == (3, 2)


def test_the_note_names_the_teachers_trial(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path
) -> None:
    data = make_dataset(256)
    folder = _save_teacher(tmp_path, _teacher_of(data.train), "best-gbdt")
    info = TeacherInfo(
        teacher="best-gbdt",
        model="lightgbm",
        family="lightgbm",
        trial="s/lightgbm@abc#3",
        trial_number=3,
        seed=0,
        valid_auc=0.8,
        refit_valid_auc=0.8012,
        dataset="planted",
        rows=256,
        seconds=1.0,
    )
    teacher_files(folder, "best-gbdt")[1].write_text(info.to_json())
    student = prepare_distillation(
        DistillConfig(teacher="best-gbdt"), data, TrainContext(teachers_dir=folder), None
    )
    assert student.note == (
        "distilled from best-gbdt (lightgbm trial 3, valid AUC 0.8012), weight 0.5"
    )


def test_scores_of_other_data_are_refused_with_the_fix(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path
) -> None:
    data = make_dataset(256)
    folder = _save_teacher(tmp_path, np.full(255, 0.5))
    with pytest.raises(HarnessError, match=r"teacher\.npy .* 256 rows.*delete it") as e:
        prepare_distillation(
            DistillConfig(teacher=TEACHER), data, TrainContext(teachers_dir=folder), None
        )
    assert "\n" not in str(e.value)


def test_missing_scores_are_a_one_line_error(
    make_dataset: Callable[..., EncodedDataset], tmp_path: Path
) -> None:
    data = make_dataset(256)
    cfg = DistillConfig(teacher="best-gbdt")
    with pytest.raises(HarnessError, match="no scores of teacher 'best-gbdt'"):
        prepare_distillation(cfg, data, TrainContext(teachers_dir=str(tmp_path)), None)
    with pytest.raises(HarnessError, match="needs the teachers' scores of a run folder"):
        prepare_distillation(cfg, data, TrainContext(), None)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"teacher": "../up"}, "teacher"),
        ({"teacher": 3}, "teacher"),
        ({"weight": -0.1}, "weight"),
        ({"weight": 1.5}, "weight"),
        ({"weight": math.nan}, "weight"),
        ({"weight": True}, "weight"),
        ({"auxiliary_head": "yes"}, "auxiliary_head"),
    ],
)
def test_the_config_rejects_bad_values(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ValueError, match=f"DistillConfig.{field}"):
        DistillConfig(**kwargs)  # type: ignore[arg-type]
