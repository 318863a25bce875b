"""Knowledge distillation: the student learns from a mix of the labels and a teacher's scores.

A teacher (the run folder's best GBDT, its best neural trial, or the best trial of a named
model) scores the training rows once per run folder (`harness.teachers`); its probabilities are
kept as ``<teachers_dir>/<teacher>.npy`` (float32, training-row order) with ``<teacher>.json``
(`TeacherInfo`) beside them. `prepare_distillation` appends them to the training split as one
more label column, so that every loader shuffles them with their rows, and gives the training
loop the loss that mixes them with the labels (`distill_loss`):

- without an auxiliary head: ``(1 - w) * task_loss(logits, labels) + w * BCE(logit_0, teacher)``,
  the primary task's logit learning the teacher's probability as a soft target;
- with ``auxiliary_head``: ``task_loss(logits[:, :tasks], labels) + w * BCE(logit_aux, teacher)``:
  the ranker has one more output (`AuxiliaryOutput`), the tasks' outputs learn the labels at
  full weight, and the extra one learns the teacher through the body they share.

``w`` is `DistillConfig.weight`. The auxiliary form keeps the labels' term at full weight, so
the learning rates a search found for plain training keep their meaning; weight 0 turns the
teacher's term off. With several tasks the teacher (a scorer of the primary task) stands in for
the first label only, and ``1 - w`` scales the whole labels' term.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch.nn.functional as F
from torch import Tensor, nn

from harness.data.schema import EncodedDataset, EncodedSplit
from harness.errors import HarnessError
from harness.fitting import TrainContext
from harness.models.embeddings import Footprint
from harness.models.ranker import Ranker
from harness.training.losses import task_loss

__all__ = [
    "AuxiliaryOutput",
    "DistillConfig",
    "Student",
    "TeacherInfo",
    "distill_loss",
    "load_teacher_info",
    "prepare_distillation",
    "teacher_files",
]

# A teacher's name becomes a file name: letters, digits, ``_``, ``.`` and ``-`` (model names).
_TEACHER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class DistillConfig:
    """Distillation from a teacher's scores of the training rows (off with ``teacher = ""``).

    Attributes:
        teacher: ``""`` (off), ``"best-gbdt"`` (the run folder's best GBDT search trial by
            validation AUC), ``"best-neural"`` (its best neural search trial) or a model name
            (the best search trial of that search-space file). Trials that distilled
            themselves are never teachers (`harness.teachers.find_teacher`).
        weight: in ``[0, 1]``, the teacher's weight in the loss. Without an auxiliary head the
            labels get ``1 - weight`` (weight 1: the labels are not used at all); with one the
            labels keep weight 1 and the auxiliary output's term gets ``weight``.
        auxiliary_head: the teacher's scores are learnt by one more output of the ranker's head
            instead of the primary task's; scoring (validation, test) reads the tasks' outputs
            only (`AuxiliaryOutput`).
    """

    teacher: str = ""
    weight: float = 0.5
    auxiliary_head: bool = False

    def __post_init__(self) -> None:
        teacher = self.teacher
        if not isinstance(teacher, str) or (teacher and not _TEACHER_NAME.fullmatch(teacher)):
            raise ValueError(
                "DistillConfig.teacher must be '' (off), 'best-gbdt', 'best-neural' or a model "
                f"name (letters, digits, _ . -), got {teacher!r}"
            )
        w = self.weight
        if not (isinstance(w, int | float) and not isinstance(w, bool) and 0.0 <= w <= 1.0):
            raise ValueError(f"DistillConfig.weight must be a number in [0, 1], got {w!r}")
        if not isinstance(self.auxiliary_head, bool):
            raise ValueError(
                f"DistillConfig.auxiliary_head must be true or false, got {self.auxiliary_head!r}"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.teacher)

    @property
    def extra_outputs(self) -> int:
        """Outputs the ranker needs beside the tasks' (1 with an auxiliary head, else 0)."""
        return 1 if self.enabled and self.auxiliary_head else 0


@dataclass(frozen=True)
class Student:
    """What the training loop needs to train a student: its training split (labels with the
    teacher's scores beside them), its loss (None: the plain `task_loss`) and a note."""

    train: EncodedSplit
    loss_fn: Callable[[Tensor, Tensor], Tensor] | None = None
    note: str = ""


@dataclass(frozen=True)
class TeacherInfo:
    """Which trial a teacher's scores come from (``<teacher>.json`` beside the scores).

    Attributes:
        teacher: the name asked for (``best-gbdt``, ``best-neural``, a model).
        model: the trial's model (search-space file).
        family: the family that trained it.
        trial: the search trial, ``"<study>#<trial number>"``.
        trial_number: its Optuna trial number (None if unknown).
        seed: the seed it was trained and refitted with.
        valid_auc: the search trial's validation AUC.
        refit_valid_auc: the refit's validation AUC (the teacher whose scores are kept).
        dataset: the data id (the cache key) the scores were computed on.
        rows: training rows scored.
        seconds: the refit's wall time.
    """

    teacher: str
    model: str
    family: str
    trial: str
    trial_number: int | None
    seed: int
    valid_auc: float | None
    refit_valid_auc: float
    dataset: str
    rows: int
    seconds: float

    def describe(self) -> str:
        """``"lightgbm trial 3, valid AUC 0.8012"`` (the refit's AUC)."""
        number = self.trial if self.trial_number is None else str(self.trial_number)
        return f"{self.model} trial {number}, valid AUC {self.refit_valid_auc:.4f}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> TeacherInfo:
        """Raises ValueError or TypeError for text that is not a teacher's record."""
        data: dict[str, Any] = json.loads(text)
        return cls(**data)


def teacher_files(folder: str | Path, teacher: str) -> tuple[Path, Path]:
    """The teacher's scores (``<teacher>.npy``) and record (``<teacher>.json``) in ``folder``."""
    folder = Path(folder)
    return folder / f"{teacher}.npy", folder / f"{teacher}.json"


def load_teacher_info(folder: str | Path, teacher: str) -> TeacherInfo | None:
    """The teacher's record in ``folder``; None when missing or unreadable."""
    _, info = teacher_files(folder, teacher)
    try:
        return TeacherInfo.from_json(info.read_text())
    except (OSError, ValueError, TypeError):
        return None


class AuxiliaryOutput(nn.Module):
    """A ranker built with one output more than the tasks: distillation's auxiliary head.

    In training mode every output is returned (the loss reads the last one as the teacher's);
    in eval mode only the tasks', so scoring sees exactly the labels' columns.

    **Shape**: ``x_num (B, n_num)``, ``x_cat (B, n_cat)``, ``x_vec (B, W)`` or None -> logits
    ``(B, tasks + 1)`` in training mode, ``(B, tasks)`` in eval mode.

    **Example**: ``AuxiliaryOutput(config.model.build(inputs, tasks + 1), tasks)``.
    """

    def __init__(self, ranker: Ranker, tasks: int) -> None:
        super().__init__()
        if tasks < 1 or ranker.tasks != tasks + 1:
            raise ValueError(f"the ranker needs tasks + 1 outputs, got {ranker.tasks=} {tasks=}")
        self.ranker = ranker
        self.tasks = tasks
        self.d_input = ranker.d_input

    def forward(self, x_num: Tensor, x_cat: Tensor, x_vec: Tensor | None = None) -> Tensor:
        logits: Tensor = self.ranker(x_num, x_cat, x_vec)
        return logits if self.training else logits[:, : self.tasks]

    def embedding_footprint(self) -> Footprint:
        return self.ranker.embedding_footprint()


def distill_loss(
    tasks: int,
    weight: float,
    *,
    auxiliary_head: bool = False,
    task_weights: Tensor | None = None,
) -> Callable[[Tensor, Tensor], Tensor]:
    """The student's loss on ``(logits, y)``, ``y`` holding the labels then the teacher's
    probability (``(B, tasks + 1)``); the formulas are in the module docstring.

    Args:
        tasks: label columns.
        weight: the teacher's weight ``w`` in ``[0, 1]``.
        auxiliary_head: the logits have ``tasks + 1`` columns, the last one the teacher's.
        task_weights: as `task_loss`'s, for the labels' term.
    """
    # Imported here: the training loop imports this module (no second copy of the task loss).

    outputs = tasks + (1 if auxiliary_head else 0)
    teacher_column = tasks if auxiliary_head else 0
    label_weight = 1.0 if auxiliary_head else 1.0 - weight

    def loss(logits: Tensor, y: Tensor) -> Tensor:
        if logits.shape[1] != outputs or y.shape[1] != tasks + 1:
            raise ValueError(
                f"distillation expects logits of {outputs} columns and labels of {tasks + 1} "
                f"(the last the teacher's), got {tuple(logits.shape)=} {tuple(y.shape)=}"
            )
        labels = task_loss(logits[:, :tasks], y[:, :tasks], task_weights)
        taught = F.binary_cross_entropy_with_logits(logits[:, teacher_column], y[:, tasks])
        return label_weight * labels + weight * taught

    return loss


def prepare_distillation(
    cfg: DistillConfig, data: EncodedDataset, ctx: TrainContext, task_weights: Tensor | None
) -> Student:
    """The student's training split and loss (the plain ones when ``cfg`` is off).

    The teacher's scores are memory-mapped from ``ctx.teachers_dir`` and appended to the
    training labels as one more column (an in-memory copy of the labels and scores, 8 bytes a
    row for one task, even when the split itself is memory-mapped).

    Raises:
        HarnessError: no teachers' folder, no scores of this teacher there, or scores of another
            number of rows than the training split (the message says how to recompute them).
    """
    if not cfg.enabled:
        return Student(data.train)
    if ctx.teachers_dir is None:
        raise HarnessError(
            f"train.distill.teacher = {cfg.teacher!r} needs the teachers' scores of a run folder, "
            "and this fit has none: run it through `harness run`, or set "
            "TrainContext.teachers_dir"
        )
    scores_path, _ = teacher_files(ctx.teachers_dir, cfg.teacher)
    try:
        scores = np.load(scores_path, mmap_mode="r")
    except FileNotFoundError:
        raise HarnessError(
            f"no scores of teacher {cfg.teacher!r} in {ctx.teachers_dir}: `harness run` computes "
            "them before the trials that distill from it launch"
        ) from None
    except ValueError as e:
        raise HarnessError(
            f"{scores_path} is not a teacher's scores ({e}); delete it to recompute it"
        ) from None
    n = data.train.n_rows
    if scores.ndim != 1 or scores.shape[0] != n:
        raise HarnessError(
            f"{scores_path} holds teacher scores of shape {scores.shape}, but the training split "
            f"has {n} rows: they were computed on other data; delete it (and its .json) and run "
            "again to recompute them"
        )
    tasks = len(data.schema.labels)
    y = np.asarray(data.train.y, dtype=np.float32).reshape(n, -1)
    if y.shape[1] != tasks:
        raise ValueError(f"the training labels have {y.shape[1]} columns, the schema {tasks} tasks")
    train = replace(data.train, y=np.concatenate([y, scores.astype(np.float32)[:, None]], axis=1))
    info = load_teacher_info(ctx.teachers_dir, cfg.teacher)
    source = f" ({info.describe()})" if info is not None else ""
    aux = ", auxiliary head" if cfg.auxiliary_head else ""
    note = f"distilled from {cfg.teacher}{source}, weight {cfg.weight:g}{aux}"
    loss = distill_loss(
        tasks, float(cfg.weight), auxiliary_head=cfg.auxiliary_head, task_weights=task_weights
    )
    return Student(train, loss, note)
