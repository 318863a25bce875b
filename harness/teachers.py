"""Teachers for distillation: a trial of the run folder refitted once, its training scores kept.

A neural config with ``[train.distill] teacher = ...`` learns from a teacher's probabilities of
the training rows (`harness.training.distill`). The teacher is a search trial of the run folder
on the same data (`find_teacher`): ``best-gbdt`` the best GBDT trial by validation AUC,
``best-neural`` the best neural one, a model name that model's best. A trial that distilled
itself is never a teacher (refitting it would need its own teacher).

The driver computes each teacher's scores once per run folder, before the trials that need them
launch (`prepare_teachers`, called by ``harness run`` for a search, its repeats and a study's
arms): the trial's resolved config is rebuilt from its row, refitted on the training split with
the trial's seed (early-stopping on validation as the trial did), and its probabilities of the
training rows are saved as ``<run folder>/teachers/<teacher>.npy`` (float32, training-row order)
with ``<teacher>.json`` (`TeacherInfo`: which trial, its validation AUC, the data id). A later
call reuses them while they match the data (its id and row count), even when a better trial
has appeared since: the students of one folder keep one teacher. Delete both files to pick the
folder's best trial again.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from rich.console import Console
from rich.markup import escape

from harness.atomic import replace_atomically, write_text_atomic
from harness.data.schema import EncodedDataset
from harness.errors import HarnessError
from harness.families.registry import get_family
from harness.fitting import TrainContext
from harness.repeats import repeat_key
from harness.results.table import TrialResult, best_trial, is_search_trial
from harness.training.distill import DistillConfig, TeacherInfo, load_teacher_info, teacher_files
from harness.tuning.space import SearchSpace, space_from_mapping

__all__ = [
    "BEST_GBDT",
    "BEST_NEURAL",
    "check_teachers",
    "find_teacher",
    "prepare_teachers",
    "teachers_asked",
]

BEST_GBDT = "best-gbdt"
BEST_NEURAL = "best-neural"
_KINDS = {BEST_GBDT: "gbdt", BEST_NEURAL: "neural"}


def teachers_asked(spaces: Iterable[SearchSpace]) -> tuple[str, ...]:
    """The teachers the spaces' configs distil from, at any corner (a searched teacher gives
    each of its choices), in first-seen order."""
    names: dict[str, None] = {}
    for space in spaces:
        for _, config in space.corners():
            distill = getattr(getattr(config, "train", None), "distill", None)
            if isinstance(distill, DistillConfig) and distill.enabled:
                names[distill.teacher] = None
    return tuple(names)


def _distils(row: TrialResult) -> bool:
    train = row.config_dict.get("train")
    distill = train.get("distill") if isinstance(train, dict) else None
    return isinstance(distill, dict) and bool(distill.get("teacher"))


def _kind(family: str) -> str | None:
    try:
        return get_family(family).kind
    except HarnessError:
        return None


def _wanted(name: str, row: TrialResult) -> bool:
    kind = _KINDS.get(name)
    return _kind(row.family) == kind if kind is not None else row.model == name


def find_teacher(
    name: str, rows: Iterable[TrialResult], *, dataset_id: str, suite: str = "SUITE"
) -> TrialResult:
    """The search trial ``name`` stands for among ``rows`` on ``dataset_id`` (module docstring).

    Raises:
        HarnessError: the rows hold no such trial (one line: what to run first).
    """
    candidates = [
        r
        for r in rows
        if r.dataset == dataset_id and is_search_trial(r) and _wanted(name, r) and not _distils(r)
    ]
    best = best_trial(candidates)
    if best is not None:
        return best
    what = {BEST_GBDT: "a GBDT", BEST_NEURAL: "a neural"}.get(name)
    if what is not None:
        raise HarnessError(
            f"distillation from {name} needs {what} search trial on this data in this run "
            f"folder (trials that distil are not teachers): run the search first (harness run "
            f"--suite {suite}) or name a model as train.distill.teacher"
        )
    raise HarnessError(
        f"distillation from {name} needs a search trial of model {name!r} on this data in this "
        f"run folder (trials that distil are not teachers): run its search first (harness run "
        f"--suite {suite} --models {name} --resume) or name another teacher"
    )


def _provides(name: str, space: SearchSpace) -> bool:
    kind = _KINDS.get(name)
    return _kind(space.family) == kind if kind is not None else space.name == name


def check_teachers(
    spaces: Sequence[SearchSpace],
    rows: Iterable[TrialResult],
    *,
    dataset_id: str,
    suite: str = "SUITE",
) -> None:
    """Before a run: every teacher the spaces ask for is in ``rows`` already, or can come from
    a space searched before the one asking (``spaces`` in the order they run).

    Raises:
        HarnessError: a teacher no trial can provide (`find_teacher`'s message).
    """
    rows = list(rows)
    for i, space in enumerate(spaces):
        for name in teachers_asked([space]):
            if any(_provides(name, earlier) for earlier in spaces[:i]):
                continue
            find_teacher(name, rows, dataset_id=dataset_id, suite=suite)


def _reusable(folder: Path, name: str, dataset_id: str, n_rows: int) -> TeacherInfo | None:
    """The teacher's record when its scores are there and match the data; else None."""
    info = load_teacher_info(folder, name)
    if info is None or info.dataset != dataset_id or info.rows != n_rows:
        return None
    scores, _ = teacher_files(folder, name)
    try:
        kept = np.load(scores, mmap_mode="r")
    except (OSError, ValueError):
        return None
    return info if kept.shape == (n_rows,) else None


def _config_of(row: TrialResult, where: str) -> Any:
    tree: dict[str, Any] = {"family": row.family, **row.config_dict}
    space = space_from_mapping(tree, name=row.model, where=where, family=row.family)
    try:
        return space.build_config({})
    except ValueError as e:
        raise HarnessError(f"{where}: its config does not build: {e}") from None


def _fit_teacher(
    name: str,
    row: TrialResult,
    dataset: EncodedDataset,
    *,
    dataset_id: str,
    device: str,
    threads: int,
) -> tuple[np.ndarray, TeacherInfo]:
    """Refits ``row``'s config on the training split; its training-row probabilities."""
    where = f"teacher {name}: trial {row.trial_id} ({row.model})"
    family = get_family(row.family)
    config = _config_of(row, where)
    ctx = TrainContext(
        seed=row.seed, threads=threads, device=device if family.kind == "neural" else "cpu"
    )
    start = time.perf_counter()
    saved_threads = torch.get_num_threads()
    try:
        # The families score ``data.test``: with the training split there, the scores are the
        # teacher's of the training rows, in row order (no new API per family).
        result = family.fit(config, dataclasses.replace(dataset, test=dataset.train), ctx)
    finally:
        torch.set_num_threads(saved_threads)
    n = dataset.train.n_rows
    scores = None if result.test_scores is None else np.asarray(result.test_scores, np.float32)
    if scores is None or scores.shape != (n,):
        shape = None if scores is None else scores.shape
        raise HarnessError(f"{where}: the refit gave scores of shape {shape}, expected ({n},)")
    if not (np.isfinite(scores).all() and scores.min() >= 0.0 and scores.max() <= 1.0):
        raise HarnessError(f"{where}: the refit's scores are not probabilities in [0, 1]")
    info = TeacherInfo(
        teacher=name,
        model=row.model,
        family=row.family,
        trial=repeat_key(row),
        trial_number=row.study_trial,
        seed=row.seed,
        valid_auc=row.valid_auc,
        refit_valid_auc=float(result.valid.auc),
        dataset=dataset_id,
        rows=n,
        seconds=round(time.perf_counter() - start, 3),
    )
    return scores, info


def prepare_teachers(
    names: Iterable[str],
    folder: Path,
    dataset: EncodedDataset,
    rows: Iterable[TrialResult],
    *,
    dataset_id: str,
    suite: str = "SUITE",
    device: str | None = None,
    threads: int | None = None,
    console: Console | None = None,
) -> list[TeacherInfo]:
    """Each named teacher's scores of the training rows in ``folder``: kept ones reused while
    they match the data, the others computed once (module docstring).

    Args:
        names: teachers (``best-gbdt``, ``best-neural``, model names; `teachers_asked`).
        folder: the run folder's ``teachers/`` (`RunPaths.teachers`).
        dataset: the run's encoded dataset.
        rows: the run folder's results.
        dataset_id: the data id (cache key) of ``dataset``, as the rows' ``dataset``.
        suite: named in the message when no trial can teach.
        device: where a neural teacher trains (default: CUDA where torch sees it, else CPU).
        threads: training threads (default: every CPU; trials do not run meanwhile).
        console: where to say what was reused or computed.

    Returns:
        The teachers' records, in the order of ``names`` (duplicates once).

    Raises:
        HarnessError: no trial for a teacher, a config that no longer builds, or a refit
            whose scores are not probabilities.
    """
    rows = list(rows)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    threads = threads or max(1, os.cpu_count() or 1)
    n = dataset.train.n_rows
    infos = []
    for name in dict.fromkeys(names):
        info = _reusable(folder, name, dataset_id, n)
        scores_path, info_path = teacher_files(folder, name)
        if info is not None:
            _say(console, f"teacher {name}: {info.describe()}, scores kept in {scores_path}")
            infos.append(info)
            continue
        row = find_teacher(name, rows, dataset_id=dataset_id, suite=suite)
        auc = "?" if row.valid_auc is None else f"{row.valid_auc:.4f}"
        what = f"teacher {name}: refitting {row.model} trial {repeat_key(row)} (valid AUC {auc})"
        if console is not None:
            with console.status(f"{escape(what)} on {n:,} training rows"):
                scores, info = _fit_teacher(
                    name, row, dataset, dataset_id=dataset_id, device=device, threads=threads
                )
        else:
            scores, info = _fit_teacher(
                name, row, dataset, dataset_id=dataset_id, device=device, threads=threads
            )
        # The scores first, the record last: a record names complete scores.
        _save(scores_path, scores)
        write_text_atomic(info_path, info.to_json())
        _say(console, f"teacher {name}: {info.describe()}, scores of {n:,} rows in {scores_path}")
        infos.append(info)
    return infos


def _save(path: Path, scores: np.ndarray) -> None:
    def write(f: IO[bytes]) -> None:
        np.save(f, scores)

    replace_atomically(path, write)


def _say(console: Console | None, text: str) -> None:
    if console is not None:
        console.print(escape(text))
