"""Tuning one model with Ray Tune + Optuna (with `harness.distributed`, the ``ray`` users).

A *model* is a search-space file (``search_spaces/deepfm.toml``) and the family that trains it.
``tune_model`` runs a Ray Tune ``Tuner`` whose searcher is ``OptunaSearch`` (TPE) backed by a
persistent SQLite study, one per suite, model and search-space fingerprint
(``"<suite>/<model>@<fingerprint>"``), so a second run adds trials to the same study while an
edited file starts a new one; an ``ASHAScheduler`` stops poor trials on their per-epoch
validation AUC. Every finished trial (complete, pruned by ASHA or the time budget, or failed)
becomes one ``TrialResult`` row with its sampled parameters and its resolved config, appended to
the results table as it finishes.

Resources come from what Ray actually sees (``ray.cluster_resources()``): Ray waits forever for
a GPU the cluster lacks, so a trial asks for GPUs only when the cluster has some. Inside a trial
the device is ``"cuda"`` only when Ray granted GPU ids *and* torch sees CUDA; threads are the
CPUs granted.

Data reaches trials once: a dataset with ``cache_dir`` is memory-mapped by each trial through
``load_dataset``; an in-memory dataset goes through Ray's object store
(``tune.with_parameters``), not through every trial's config.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import optuna
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from harness.data.schema import EncodedDataset
from harness.distributed.session import ClusterResources, ray_session
from harness.errors import HarnessError
from harness.families.base import Family
from harness.fitting import EpochMetrics, TrainContext
from harness.metrics import Metrics
from harness.results.table import TrialResult, append_results, package_versions
from harness.tuning.space import SearchSpace, config_to_dict

__all__ = [
    "METRIC",
    "ClusterResources",
    "ResourcePlan",
    "plan_resources",
    "ray_session",
    "study_name",
    "tune_model",
]

METRIC = "valid_auc"
MODE = "max"
# The Optuna trial number travels in each trial's config under this key (not a parameter).
_STUDY_TRIAL_KEY = "__study_trial"

log = logging.getLogger(__name__)


def study_name(suite: str, space: SearchSpace) -> str:
    """The persistent Optuna study of a suite, model and space, e.g. ``"criteo/dcnv2@3f2a9c1e"``.

    The fingerprint keeps the trials of an edited search space apart from the older ones: TPE
    never learns from points of another space, and the dashboard shows each space's study.
    """
    return f"{suite}/{space.name}@{space.fingerprint[:8]}"


# --- resources -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ResourcePlan:
    """What each trial asks Ray for, decided from what the cluster has."""

    cpus_per_trial: float
    gpus_per_trial: float
    max_concurrent_trials: int
    notes: tuple[str, ...] = ()


def plan_resources(
    cluster: Mapping[str, float],
    *,
    cpus_per_trial: float,
    gpus_per_trial: float,
    num_samples: int,
    max_concurrent_trials: int | None = None,
) -> ResourcePlan:
    """Per-trial resources and concurrency that the cluster can actually satisfy.

    Args:
        cluster: ``ray.cluster_resources()``.
        cpus_per_trial: CPUs (training threads) per trial.
        gpus_per_trial: GPUs (or a fraction) per trial when the cluster has GPUs.
        num_samples: trials in the run (no point running more at once).
        max_concurrent_trials: an upper bound chosen by the user, if any.

    Raises:
        HarnessError: a trial would need more CPUs or GPUs than the cluster has (Ray would wait
            forever).
    """
    cpus = float(cluster.get("CPU", 0.0))
    gpus = float(cluster.get("GPU", 0.0))
    if cpus_per_trial <= 0:
        raise HarnessError(f"cpus per trial must be positive, got {cpus_per_trial}")
    if gpus_per_trial < 0:
        raise HarnessError(f"gpus per trial must be >= 0, got {gpus_per_trial}")
    if cpus_per_trial > cpus:
        raise HarnessError(
            f"a trial asks for {cpus_per_trial:g} CPUs but the Ray cluster has {cpus:g}; "
            "lower --cpus-per-trial"
        )
    notes: list[str] = []
    if gpus_per_trial > 0 and gpus == 0:
        notes.append(f"asked for {gpus_per_trial:g} GPU per trial but the Ray cluster has none")
        gpus_per_trial = 0.0
    if gpus_per_trial > gpus:
        raise HarnessError(
            f"a trial asks for {gpus_per_trial:g} GPUs but the Ray cluster has {gpus:g}; "
            "lower --gpus-per-trial"
        )
    fit = int(cpus // cpus_per_trial)
    if gpus_per_trial > 0:
        fit = min(fit, int(gpus // gpus_per_trial + 1e-9))
    limit = max(1, min(fit, num_samples))
    if max_concurrent_trials is not None:
        limit = max(1, min(limit, max_concurrent_trials))
    return ResourcePlan(cpus_per_trial, gpus_per_trial, limit, tuple(notes))


# --- the trial -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _TrialSetup:
    """Everything a trial needs besides its sampled parameters (sent once via the object store)."""

    family: Family
    space: SearchSpace
    seed: int
    cpus: float
    cache_dir: str | None = None
    load_dataset: Callable[[str], EncodedDataset] | None = None


def _pick_device(gpu_ids: list[Any]) -> tuple[str, str]:
    """``("cuda", "")`` when Ray granted GPUs and torch sees CUDA, else ``("cpu", note)``."""
    if not gpu_ids:
        return "cpu", ""
    try:
        import torch

        if torch.cuda.is_available():
            return "cuda", ""
    except ImportError:
        pass
    return "cpu", f"granted GPU ids {_ids(gpu_ids)} but torch sees no CUDA device: ran on cpu"


def _ids(gpu_ids: list[Any]) -> str:
    return ",".join(str(i) for i in gpu_ids)


def _run_trial(
    config: dict[str, Any], setup: _TrialSetup, data: EncodedDataset | None = None
) -> None:
    """The Ray trainable: build the config, fit, report per epoch, then a final full report."""
    context = tune.get_context()
    granted = context.get_trial_resources().required_resources
    threads = max(1, int(granted.get("CPU", setup.cpus)))
    gpu_ids = list(ray.get_gpu_ids())
    device, device_note = _pick_device(gpu_ids)
    # Sent with every report, so that a pruned trial's row says where it ran too.
    where = {
        "device": device,
        "gpu_ids": _ids(gpu_ids),
        "cpus": float(threads),
        "device_note": device_note,
    }

    params = {k: v for k, v in config.items() if k != _STUDY_TRIAL_KEY}
    family_config = setup.space.build_config(params)
    if data is None:
        if setup.cache_dir is None or setup.load_dataset is None:
            raise RuntimeError("the trial got neither a dataset nor a cache folder to map")
        data = setup.load_dataset(setup.cache_dir)

    def on_epoch(m: EpochMetrics) -> None:
        tune.report(
            {
                METRIC: m.valid.auc,
                "valid_logloss": m.valid.logloss,
                "epoch": m.epoch,
                "train_loss": math.nan if m.train_loss is None else m.train_loss,
                "epoch_seconds": m.seconds,
                **({} if m.test is None else _test_scores(m.test, "epoch_")),
                **({} if m.n_params is None else {"n_params": m.n_params}),
                **where,
            }
        )

    ctx = TrainContext(seed=setup.seed, threads=threads, device=device, on_epoch=on_epoch)
    fit = setup.family.fit(family_config, data, ctx)
    tune.report(
        {
            "final": True,
            METRIC: fit.valid.auc,
            "valid_logloss": fit.valid.logloss,
            **_test_scores(fit.test, ""),
            "best_epoch": fit.best_epoch,
            "epochs": fit.curve[-1].epoch if fit.curve else 0,
            "curve": json.dumps([_curve_point(m) for m in fit.curve]),
            "n_params": fit.n_params,
            "samples_per_s": math.nan if fit.samples_per_s is None else fit.samples_per_s,
            "train_seconds": fit.train_seconds,
            "notes": fit.notes,
            "task_metrics": _task_json(data.schema.labels, fit.valid_tasks, fit.test_tasks),
            **where,
        }
    )


def _test_scores(m: Metrics, prefix: str) -> dict[str, float]:
    """A test split's scores for a report; GAUC and NDCG@10 only where the data has groups."""
    out = {f"{prefix}test_auc": m.auc, f"{prefix}test_logloss": m.logloss}
    if m.gauc is not None:
        out[f"{prefix}test_gauc"] = m.gauc
    if m.ndcg10 is not None:
        out[f"{prefix}test_ndcg10"] = m.ndcg10
    return out


def _task_json(
    labels: tuple[str, ...], valid: tuple[Metrics, ...], test: tuple[Metrics, ...]
) -> str:
    """``{label: {valid_auc, valid_logloss, test_auc, test_logloss}}`` as JSON ("{}": none)."""
    if not valid:
        return "{}"
    out: dict[str, dict[str, float | None]] = {}
    for i, label in enumerate(labels[: len(valid)]):
        t = test[i] if i < len(test) else None
        out[label] = {
            "valid_auc": _opt_float(valid[i].auc),
            "valid_logloss": _opt_float(valid[i].logloss),
            "test_auc": None if t is None else _opt_float(t.auc),
            "test_logloss": None if t is None else _opt_float(t.logloss),
            "test_gauc": None if t is None else _opt_float(t.gauc),
            "test_ndcg10": None if t is None else _opt_float(t.ndcg10),
        }
    return json.dumps(out)


def _curve_point(m: EpochMetrics) -> dict[str, Any]:
    return {
        "epoch": m.epoch,
        "valid_auc": m.valid.auc,
        "valid_logloss": m.valid.logloss,
        "train_loss": m.train_loss,
        "seconds": m.seconds,
        "test_auc": None if m.test is None else m.test.auc,
        "test_logloss": None if m.test is None else m.test.logloss,
        "test_gauc": None if m.test is None else m.test.gauc,
        "test_ndcg10": None if m.test is None else m.test.ndcg10,
    }


class _DefineByRun:
    """Optuna's define-by-run space; also passes the study trial number into the config.

    A class rather than a closure: Ray pickles its searcher (with this) with plain ``pickle``.
    """

    def __init__(self, space: SearchSpace) -> None:
        self.space = space

    def __call__(self, trial: optuna.Trial) -> dict[str, Any]:
        self.space.suggest(trial)
        return {_STUDY_TRIAL_KEY: trial.number}


def _trial_dirname(trial: Any) -> str:
    return str(trial.trial_id)


# --- collecting rows and showing progress --------------------------------------------------


@dataclass
class _RunInfo:
    suite: str
    dataset: str
    protocol: str
    space: SearchSpace
    study: str
    seed: int
    results_path: Path | None
    notes: tuple[str, ...]
    versions: dict[str, str] = field(default_factory=package_versions)


class _Collector(tune.Callback):
    """Turns each finished trial into a ``TrialResult`` and drives the rich progress bar."""

    def __init__(self, info: _RunInfo, progress: Progress | None, task: TaskID | None) -> None:
        self.info = info
        self.rows: list[TrialResult] = []
        self._progress = progress
        self._task = task
        self._curves: dict[str, list[dict[str, Any]]] = {}
        self._started: dict[str, tuple[float, str]] = {}
        self._best = -math.inf

    def __getstate__(self) -> dict[str, Any]:
        # Ray pickles its run config (this callback included); a live progress bar does not pickle.
        state = self.__dict__.copy()
        state["_progress"] = None
        return state

    def on_trial_start(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._started[trial.trial_id] = (time.time(), datetime.now(UTC).isoformat())

    def on_trial_result(
        self, iteration: int, trials: list[Any], trial: Any, result: dict[str, Any], **info: Any
    ) -> None:
        if result.get("final"):
            return
        self._curves.setdefault(trial.trial_id, []).append(
            {
                "epoch": result.get("epoch"),
                "valid_auc": result.get(METRIC),
                "valid_logloss": result.get("valid_logloss"),
                "train_loss": _none_if_nan(result.get("train_loss")),
                "seconds": result.get("epoch_seconds"),
                "test_auc": result.get("epoch_test_auc"),
                "test_logloss": result.get("epoch_test_logloss"),
                "test_gauc": result.get("epoch_test_gauc"),
                "test_ndcg10": result.get("epoch_test_ndcg10"),
            }
        )
        if _finite(result.get(METRIC)):
            self._show(
                latest=f"(trial {trial.trial_id} epoch {result.get('epoch')}: "
                f"valid AUC {float(result[METRIC]):.4f})"
            )

    def on_trial_complete(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        if last.get("final"):
            self._add(trial, "complete", last)
        else:
            self._add(trial, "pruned", last)

    def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
        # Trials still running when Ray's hard time limit ended the experiment get no
        # on_trial_complete: record them too, with the validation curve they reached.
        recorded = {r.trial_id for r in self.rows}
        for trial in trials:
            if str(trial.trial_id) not in recorded and trial.trial_id in self._started:
                self._add(trial, "pruned", trial.last_result or {})

    def on_trial_error(self, iteration: int, trials: list[Any], trial: Any, **info: Any) -> None:
        self._add(trial, "failed", trial.last_result or {}, error=_error_line(trial))

    def _add(self, trial: Any, status: str, last: Mapping[str, Any], error: str = "") -> None:
        row = self._row(trial, status, last, error)
        self.rows.append(row)
        if self.info.results_path is not None:
            append_results(self.info.results_path, [row])
        if row.valid_auc is not None and not math.isnan(row.valid_auc):
            self._best = max(self._best, row.valid_auc)
        self._show(advance=1)

    def _show(self, *, advance: int = 0, latest: str = "") -> None:
        """Trials done (the bar), best valid AUC, pruned/failed counts, and the latest epoch."""
        if self._progress is None or self._task is None:
            return
        best = f"{self._best:.4f}" if self._best > -math.inf else "-"
        failed = sum(r.status == "failed" for r in self.rows)
        pruned = sum(r.status == "pruned" for r in self.rows)
        text = f"{self.info.study}  best valid AUC {best}  pruned {pruned}  failed {failed}"
        self._progress.update(
            self._task, advance=advance, description=f"{text}  {latest}" if latest else text
        )

    def _row(self, trial: Any, status: str, last: Mapping[str, Any], error: str) -> TrialResult:
        info = self.info
        config = dict(trial.config)
        study_trial = config.pop(_STUDY_TRIAL_KEY, None)
        curve = self._curves.get(trial.trial_id, [])
        start, started_at = self._started.get(trial.trial_id, (time.time(), ""))
        notes = list(info.notes)
        test_auc = test_logloss = test_gauc = test_ndcg = None
        if status == "complete":
            valid_auc, valid_logloss = last.get(METRIC), last.get("valid_logloss")
            test_auc, test_logloss = last.get("test_auc"), last.get("test_logloss")
            test_gauc, test_ndcg = last.get("test_gauc"), last.get("test_ndcg10")
            curve_json = str(last.get("curve", "[]"))
            best_epoch, epochs = last.get("best_epoch"), int(last.get("epochs", 0))
        else:
            # Pruned or failed: the best epoch of the curve so far, and its test score where the
            # family measured one at that epoch (neural families do, at each new best epoch).
            best = max(
                (p for p in curve if _finite(p.get("valid_auc"))),
                key=lambda p: float(p["valid_auc"]),
                default=None,
            )
            valid_auc = None if best is None else best["valid_auc"]
            valid_logloss = None if best is None else best["valid_logloss"]
            best_epoch = None if best is None else best["epoch"]
            epochs = int(curve[-1]["epoch"]) if curve else 0
            curve_json = json.dumps(curve)
            if status == "pruned":
                notes.append("stopped early by the ASHA scheduler or the time limit")
                if best is not None and _finite(best.get("test_auc")):
                    test_auc, test_logloss = best["test_auc"], best.get("test_logloss")
                    test_gauc, test_ndcg = best.get("test_gauc"), best.get("test_ndcg10")
                    notes.append(f"test scored at its best epoch ({best['epoch']})")
        notes.extend(str(last[k]) for k in ("device_note", "notes") if last.get(k))
        # A stopped trial keeps its (fixed) size from the epochs' reports and its epochs'
        # seconds until it stopped; its throughput is not measured.
        train_seconds = (
            _opt_float(last.get("train_seconds"))
            if status == "complete"
            else (_curve_seconds(curve) if status == "pruned" else None)
        )
        if status == "failed" and _error_file(trial):
            notes.append(f"traceback in {_error_file(trial)}")
        return TrialResult(
            suite=info.suite,
            dataset=info.dataset,
            protocol=info.protocol,
            family=info.space.family,
            model=info.space.name,
            space_fingerprint=info.space.fingerprint,
            config=_resolved(info.space, config),
            task_metrics=str(last.get("task_metrics", "{}")) if status == "complete" else "{}",
            study=info.study,
            trial_id=str(trial.trial_id),
            study_trial=None if study_trial is None else int(study_trial),
            params=json.dumps(config, sort_keys=True, default=str),
            seed=info.seed,
            status=status,
            error=error,
            valid_auc=_opt_float(valid_auc),
            valid_logloss=_opt_float(valid_logloss),
            test_auc=_opt_float(test_auc),
            test_logloss=_opt_float(test_logloss),
            test_gauc=_opt_float(test_gauc),
            test_ndcg10=_opt_float(test_ndcg),
            best_epoch=None if best_epoch is None else int(best_epoch),
            epochs=epochs,
            curve=curve_json,
            n_params=_opt_int(last.get("n_params")) if status != "failed" else None,
            samples_per_s=_opt_float(last.get("samples_per_s")) if status == "complete" else None,
            train_seconds=train_seconds,
            wall_seconds=time.time() - start,
            device=str(last.get("device", "cpu")),
            gpu_ids=str(last.get("gpu_ids", "")),
            cpus=float(last.get("cpus", trial.placement_group_factory.required_resources["CPU"])),
            started_at=started_at,
            notes="; ".join(notes),
            **info.versions,
        )


def _curve_seconds(curve: list[dict[str, Any]]) -> float | None:
    """The seconds of the epochs a trial reported (None: no epoch)."""
    seconds = [float(p["seconds"]) for p in curve if _finite(p.get("seconds"))]
    return sum(seconds) if seconds else None


def _resolved(space: SearchSpace, params: Mapping[str, Any]) -> str:
    """The trial's typed config as JSON (the layout of a search-space file), "{}" if invalid."""
    try:
        return json.dumps(config_to_dict(space.build_config(params)), sort_keys=True)
    except ValueError:
        return "{}"


def _error_line(trial: Any) -> str:
    """The trial's exception as ``Type: message`` on one line."""
    text = ""
    # Read the driver-side copies: the ones in the storage folder are synced later.
    pickled = trial.pickled_error_file
    if pickled and os.path.exists(pickled):
        try:
            with open(pickled, "rb") as f:
                exc = ray.cloudpickle.load(f)
            cause = getattr(exc, "cause", None) or exc
            text = f"{type(cause).__name__}: {cause}"
        except Exception:  # an unreadable pickle still leaves the text file below
            text = ""
    if not text and trial.error_file and os.path.exists(trial.error_file):
        lines = Path(trial.error_file).read_text(errors="replace").strip().splitlines()
        text = lines[-1] if lines else ""
    return " ".join(text.split())[:2000] or "trial failed (no error recorded)"


def _error_file(trial: Any) -> str:
    """Where the trial's full traceback ends up (the storage folder, not the staging one)."""
    name = trial.run_metadata.error_filename
    return str(Path(trial.path, name)) if name and trial.path else ""


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _none_if_nan(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


def _opt_float(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def _opt_int(v: Any) -> int | None:
    return None if v is None else int(v)


# --- the entry point -----------------------------------------------------------------------


def tune_model(
    space: SearchSpace,
    dataset: EncodedDataset,
    *,
    suite: str,
    study_db: str | Path,
    dataset_id: str | None = None,
    num_samples: int,
    time_budget_s: float | None = None,
    hard_time_limit_s: float | None = None,
    seed: int = 0,
    cpus_per_trial: float = 1,
    gpus_per_trial: float = 0.0,
    max_concurrent_trials: int | None = None,
    address: str | None = None,
    num_cpus: int | None = None,
    load_dataset: Callable[[str], EncodedDataset] | None = None,
    results_path: str | Path | None = None,
    ray_dir: str | Path | None = None,
    grace_period: int = 1,
    reduction_factor: int = 3,
    max_t: int = 100_000,
    show_progress: bool = True,
    console: Console | None = None,
    family: Family | None = None,
) -> list[TrialResult]:
    """Tunes one model (a search space and its family) on one dataset.

    Args:
        space: the model's validated search space (``load_search_space``).
        dataset: the encoded dataset; with ``cache_dir`` set (and ``load_dataset`` given) each
            trial memory-maps it, otherwise it goes through Ray's object store once.
        suite: the suite name; the Optuna study is ``study_name(suite, space)``.
        dataset_id: the ``dataset`` column of the rows (e.g. the cache key of this exact
            encoding); default: ``dataset.name``.
        study_db: the SQLite file of the suite's Optuna studies (created if missing); a second
            call adds trials to the same study.
        num_samples: trials to run in this call.
        time_budget_s: no trial starts after this many seconds (a soft budget: the trials
            running then may finish).
        hard_time_limit_s: Ray stops trials still running after this many seconds (default
            1.5 x ``time_budget_s``); they become "pruned" rows with the curve they reached.
        seed: the training seed of every trial (the TPE sampler's seed is derived from it and
            the number of trials already in the study, so a re-run samples new points).
        cpus_per_trial: CPUs (training threads) per trial.
        gpus_per_trial: GPUs per trial (fractions share a GPU); ignored (0) when the cluster has
            no GPU, since Ray would wait forever for one.
        max_concurrent_trials: cap on parallel trials (default: as many as the resources fit).
        address: join this existing Ray cluster (e.g. ``"auto"`` or ``"ray://host:10001"``);
            default: start a local one (or use the one already initialised in this process).
        num_cpus: CPUs of a local cluster started here (default: all).
        load_dataset: maps ``dataset.cache_dir`` to a (memory-mapped) dataset inside a trial.
        results_path: the parquet results table; each finished trial is appended as it ends.
        ray_dir: Ray Tune's own trial folders (default: ``ray/`` next to ``study_db``).
        grace_period: epochs a trial always gets before ASHA may stop it.
        reduction_factor: ASHA keeps the best 1/reduction_factor at each rung.
        max_t: ASHA's epoch cap (large: the family's own early stopping ends a trial).
        show_progress: show a rich progress bar of trials and the best valid AUC so far.
        console: the rich console to draw on.
        family: the family that trains the model (default: the registered ``space.family``).

    Returns:
        The rows of this call's trials, in the order they finished.

    Raises:
        HarnessError: the cluster cannot run a trial, or Ray cannot start.
    """
    if family is None:
        from harness.families.registry import get_family  # the registry turns names into objects

        family = get_family(space.family)
    if num_samples < 1:
        raise HarnessError(f"num_samples must be at least 1, got {num_samples}")
    if space.family != family.name:
        raise HarnessError(
            f"{space.path}: family: the space is for {space.family!r}, not {family.name!r}"
        )
    study_db = Path(study_db).resolve()
    study_db.parent.mkdir(parents=True, exist_ok=True)
    ray_dir = Path(ray_dir).resolve() if ray_dir is not None else study_db.parent / "ray"
    name = study_name(suite, space)

    with ray_session(address, num_cpus=num_cpus):
        plan = plan_resources(
            ray.cluster_resources(),  # type: ignore[no-untyped-call]
            cpus_per_trial=cpus_per_trial,
            gpus_per_trial=gpus_per_trial,
            num_samples=num_samples,
            max_concurrent_trials=max_concurrent_trials,
        )
        for note in plan.notes:
            (console or Console(stderr=True)).print(f"[yellow]{note}: trials run without GPUs[/]")

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        storage = optuna.storages.RDBStorage(
            f"sqlite:///{study_db}", engine_kwargs={"connect_args": {"timeout": 60}}
        )
        previous = _trials_in_study(storage, name)
        searcher = OptunaSearch(
            space=_DefineByRun(space),
            metric=METRIC,
            mode=MODE,
            sampler=optuna.samplers.TPESampler(seed=seed * 1_000_003 + previous),
            study_name=name,
            storage=storage,
        )
        scheduler = ASHAScheduler(
            time_attr="training_iteration",
            metric=METRIC,
            mode=MODE,
            max_t=max_t,
            grace_period=grace_period,
            reduction_factor=reduction_factor,
        )

        use_cache = dataset.cache_dir is not None and load_dataset is not None
        setup = _TrialSetup(
            family=family,
            space=space,
            seed=seed,
            cpus=plan.cpus_per_trial,
            cache_dir=dataset.cache_dir if use_cache else None,
            load_dataset=load_dataset if use_cache else None,
        )
        if use_cache:
            trainable = tune.with_parameters(_run_trial, setup=setup)
        else:
            trainable = tune.with_parameters(_run_trial, setup=setup, data=dataset)
        trainable = tune.with_resources(
            trainable, {"cpu": plan.cpus_per_trial, "gpu": plan.gpus_per_trial}
        )

        info = _RunInfo(
            suite=suite,
            dataset=dataset_id or dataset.name,
            protocol=dataset.protocol,
            space=space,
            study=name,
            seed=seed,
            results_path=None if results_path is None else Path(results_path),
            notes=plan.notes,
        )
        # Bound to the real stream now: Ray's own banner is silenced below by redirecting stdout.
        console = console or Console(file=sys.stdout)
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            disable=not show_progress,
        )
        with progress:
            task = progress.add_task(f"{name}  best valid AUC -", total=num_samples)
            collector = _Collector(info, progress, task)
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=searcher
                    if time_budget_s is None
                    else _Deadline(searcher, time.time() + time_budget_s),
                    scheduler=scheduler,
                    num_samples=num_samples,
                    max_concurrent_trials=plan.max_concurrent_trials,
                    # A soft budget: after it no new trial starts (``_Deadline``); running
                    # trials get until the hard limit to finish before Ray stops them.
                    time_budget_s=hard_time_limit_s
                    or (None if time_budget_s is None else 1.5 * time_budget_s),
                    trial_dirname_creator=_trial_dirname,
                ),
                run_config=tune.RunConfig(
                    name=f"{suite}-{space.name}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
                    storage_path=str(ray_dir),
                    verbose=0,
                    callbacks=[collector],
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            )
            # Ray Tune prints an experiment banner and a results path whatever ``verbose`` says;
            # the progress bar above is the run's display.
            with contextlib.redirect_stdout(io.StringIO()), _quiet_logger("ray.tune"):
                tuner.fit()
        return collector.rows


class _Deadline(Searcher):
    """Wraps a searcher so that no trial starts after ``deadline`` (a ``time.time()``).

    Ray Tune's own ``time_budget_s`` stops running trials mid-epoch, losing their test scores;
    this stops launching new ones instead, so the trials running at the deadline can finish.
    """

    def __init__(self, searcher: Searcher, deadline: float) -> None:
        self.searcher = searcher
        self.deadline = deadline
        super().__init__(metric=searcher.metric, mode=searcher.mode)

    def set_search_properties(
        self, metric: str | None, mode: str | None, config: dict[str, Any], **spec: Any
    ) -> bool:
        return bool(self.searcher.set_search_properties(metric, mode, config, **spec))

    def set_max_concurrency(self, max_concurrent: int) -> bool:
        return bool(self.searcher.set_max_concurrency(max_concurrent))

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        # Searcher.FINISHED (a string) tells Ray Tune that this searcher has no more trials.
        if time.time() >= self.deadline:
            return Searcher.FINISHED
        return self.searcher.suggest(trial_id)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        self.searcher.on_trial_result(trial_id, result)

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        self.searcher.on_trial_complete(trial_id, result=result, error=error)

    # Ray saves a wrapper's own state here and the wrapped searcher's through save().
    def get_state(self) -> dict[str, Any]:
        return {"deadline": self.deadline}

    def set_state(self, state: dict[str, Any]) -> None:
        self.deadline = state["deadline"]

    def save(self, checkpoint_path: str) -> None:
        self.searcher.save(checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        self.searcher.restore(checkpoint_path)


@contextlib.contextmanager
def _quiet_logger(name: str) -> Iterator[None]:
    """Silences a logger for a while: a failed trial is a row (its traceback in the trial
    folder, named in the row's notes), not a traceback on the console."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def _trials_in_study(storage: optuna.storages.BaseStorage, name: str) -> int:
    try:
        study = optuna.load_study(study_name=name, storage=storage)
    except KeyError:  # no such study yet
        return 0
    return len(study.trials)
