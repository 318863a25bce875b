"""Tuning one model with Ray Tune + Optuna (with `harness.distributed`, the ``ray`` users).

A *model* is a search-space file (``search_spaces/deepfm.toml``) and the family that trains it.
``tune_model`` runs a Ray Tune ``Tuner`` whose searcher asks a persistent Optuna study (TPE) for
each trial (`harness.tuning.studies`: one study per suite, model and search-space fingerprint, so
a second run adds trials to the same study while an edited file starts a new one); an
``ASHAScheduler`` stops poor trials on their per-epoch validation AUC. The parts live in their
own modules: resources (`resources`), the trainable (`trainable`), the typed reports it sends
(`reports`), rows and Optuna states (`recorder`, `rows`), the display (`progress`) and the
stop request of a Ctrl-C (`stop`).

Time: no trial starts after ``launch_until``; a running trial stops at the first epoch end past
``hard_deadline`` (its best epoch so far is kept: ``pruned`` by the budget), and Ray stops
whatever still runs shortly after it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler
from ray.tune.search import Searcher
from rich.console import Console
from rich.markup import escape

from harness.data.schema import EncodedDataset
from harness.distributed.session import ClusterResources, ray_session
from harness.errors import HarnessError
from harness.families.base import Family
from harness.results.table import TrialResult, append_results
from harness.tuning.progress import TuningProgress
from harness.tuning.recorder import TrialRecorder
from harness.tuning.reports import METRIC
from harness.tuning.resources import ResourcePlan, plan_resources
from harness.tuning.rows import RowContext
from harness.tuning.space import SearchSpace
from harness.tuning.stop import StopRequest, StopTrials
from harness.tuning.studies import StudyBook, open_storage, study_name
from harness.tuning.trainable import STUDY_TRIAL_KEY, TrialSetup, run_trial

__all__ = [
    "METRIC",
    "ClusterResources",
    "ResourcePlan",
    "TuneOptions",
    "plan_resources",
    "ray_session",
    "study_name",
    "tune_model",
]

# Ray stops trials still running this long after the share's end (they stop themselves at
# their next epoch end; this bounds an epoch that never ends).
_RAY_GRACE_S = 3.0


@dataclass(frozen=True)
class TuneOptions:
    """How to tune one model.

    Attributes:
        suite: the suite (run) label; the Optuna study is ``study_name(suite, space)``.
        study_db: the SQLite file of the suite's Optuna studies (created if missing).
        results_path: the parquet results table; each ended trial is appended as it ends.
        dataset_id: the ``dataset`` column of the rows (default: the dataset's name).
        num_samples: trials to run in this call.
        time_budget_s: no trial starts after this many seconds.
        hard_time_limit_s: trials stop at their first epoch end after this many seconds
            (default 1.5 x ``time_budget_s``); they become "pruned" rows with their best epoch.
        seed: the training seed of every trial (the TPE seed is derived from it and the trials
            already in the study, so a re-run samples new points).
        cpus_per_trial: CPUs (training threads) per trial.
        gpus_per_trial: GPUs per trial (fractions share a GPU); 0 when the cluster has none.
        max_concurrent_trials: cap on parallel trials (default: as many as the resources fit).
        address: join this Ray cluster; default: start a local one (or use the one running).
        num_cpus: CPUs of a local cluster started here (default: all).
        ray_dir: Ray Tune's own trial folders (default: ``ray/`` next to ``study_db``).
        grace_period: epochs a trial always gets before ASHA may stop it.
        reduction_factor: ASHA keeps the best 1/reduction_factor at each rung.
        max_t: ASHA's epoch cap (large: the family's own early stopping ends a trial).
        show_progress: show a live display of trials, the best valid AUC and the latest epoch.
    """

    suite: str
    study_db: Path
    results_path: Path | None = None
    dataset_id: str | None = None
    num_samples: int = 1
    time_budget_s: float | None = None
    hard_time_limit_s: float | None = None
    seed: int = 0
    cpus_per_trial: float = 1
    gpus_per_trial: float = 0.0
    max_concurrent_trials: int | None = None
    address: str | None = None
    num_cpus: int | None = None
    ray_dir: Path | None = None
    grace_period: int = 1
    reduction_factor: int = 3
    max_t: int = 100_000
    show_progress: bool = True


class _StudySearcher(Searcher):
    """Asks the model's Optuna study for each trial; finishes at ``launch_until`` or a stop.

    Outcomes are told to the study by the ``TrialRecorder`` (which knows why a trial ended), not
    here: Ray's searcher interface cannot tell a pruned trial from a finished one.
    """

    def __init__(self, book: StudyBook, launch_until: float | None, stop: StopRequest) -> None:
        super().__init__(metric=METRIC, mode="max")
        self._book: StudyBook | None = book
        self._launch_until = launch_until
        self._stop: StopRequest | None = stop

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        late = self._launch_until is not None and time.time() >= self._launch_until
        if self._book is None or self._stop is None or late or self._stop.requested:
            return Searcher.FINISHED  # a string: Ray Tune starts no more trials
        number, params = self._book.ask(trial_id)
        return {**params, STUDY_TRIAL_KEY: number}

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        # The study lives in its storage: a pickled copy (Ray's experiment state) asks nothing.
        state = self.__dict__.copy()
        state["_book"] = state["_stop"] = None
        return state

    def save(self, checkpoint_path: str) -> None:
        pass  # the Optuna storage is the state; a resumed run reopens it

    def restore(self, checkpoint_path: str) -> None:
        pass


def tune_model(
    space: SearchSpace,
    dataset: EncodedDataset,
    options: TuneOptions,
    *,
    family: Family | None = None,
    load_dataset: Callable[[str], EncodedDataset] | None = None,
    console: Console | None = None,
    stop: StopRequest | None = None,
    on_row: Callable[[TrialResult], None] = lambda _row: None,
) -> list[TrialResult]:
    """Tunes one model (a search space and its family) on one dataset.

    Every trial asked in this call ends with one row and one closed Optuna trial, however the
    call ends (finished, out of time, stopped by ``stop``, or an exception).

    Args:
        space: the model's validated search space (``load_search_space``).
        dataset: the encoded dataset; with ``cache_dir`` set (and ``load_dataset`` given) each
            trial memory-maps it, otherwise it goes through Ray's object store once.
        options: see ``TuneOptions``.
        family: the family that trains the model (default: the registered ``space.family``).
        load_dataset: maps ``dataset.cache_dir`` to a (memory-mapped) dataset inside a trial.
        console: the rich console to draw on.
        stop: the run's stop request (Ctrl-C); a requested stop ends the tuning at once.
        on_row: called with each row once it is in the results table.

    Returns:
        The rows of this call's trials, in the order they ended.

    Raises:
        HarnessError: the cluster cannot run a trial, or Ray cannot start.
    """
    if family is None:
        from harness.families.registry import get_family  # the registry turns names into objects

        family = get_family(space.family)
    o = options
    if o.num_samples < 1:
        raise HarnessError(f"num_samples must be at least 1, got {o.num_samples}")
    if space.family != family.name:
        raise HarnessError(
            f"{space.path}: family: the space is for {space.family!r}, not {family.name!r}"
        )
    stop = stop or StopRequest()
    console = console or Console()
    study_db = Path(o.study_db).resolve()
    study_db.parent.mkdir(parents=True, exist_ok=True)
    ray_dir = Path(o.ray_dir).resolve() if o.ray_dir is not None else study_db.parent / "ray"
    start = time.time()
    launch_until = None if o.time_budget_s is None else start + o.time_budget_s
    hard = o.hard_time_limit_s or (None if o.time_budget_s is None else 1.5 * o.time_budget_s)
    hard_deadline = None if hard is None else start + hard

    with ray_session(o.address, num_cpus=o.num_cpus):
        plan = plan_resources(
            ray.cluster_resources(),  # type: ignore[no-untyped-call]
            cpus_per_trial=o.cpus_per_trial,
            gpus_per_trial=o.gpus_per_trial,
            num_samples=o.num_samples,
            max_concurrent_trials=o.max_concurrent_trials,
        )
        for note in plan.notes:
            console.print(f"[yellow]{escape(note)}: trials run without GPUs[/]")
        name = study_name(o.suite, space)
        ctx = RowContext(
            suite=o.suite,
            dataset=o.dataset_id or dataset.name,
            protocol=dataset.protocol,
            family=space.family,
            model=space.name,
            fingerprint=space.fingerprint,
            study=name,
            seed=o.seed,
            notes=plan.notes,
        )
        book = StudyBook(open_storage(study_db), space, ctx, o.seed)
        use_cache = dataset.cache_dir is not None and load_dataset is not None
        setup = TrialSetup(
            family=family,
            space=space,
            seed=o.seed,
            cpus=plan.cpus_per_trial,
            cache_dir=dataset.cache_dir if use_cache else None,
            load_dataset=load_dataset if use_cache else None,
            deadline=hard_deadline,
        )
        trainable = (
            tune.with_parameters(run_trial, setup=setup)
            if use_cache
            else tune.with_parameters(run_trial, setup=setup, data=dataset)
        )
        trainable = tune.with_resources(
            trainable, {"cpu": plan.cpus_per_trial, "gpu": plan.gpus_per_trial}
        )
        results = o.results_path

        def write(rows: list[TrialResult]) -> None:
            if results is not None:
                append_results(results, rows)
            for row in rows:
                on_row(row)

        with (
            _pinned(console),
            TuningProgress(console, space.name, o.num_samples, enabled=o.show_progress) as progress,
        ):
            recorder = TrialRecorder(
                book,
                write,
                stop,
                hard_deadline,
                progress=progress.trial_done,
                epoch_seen=progress.epoch,
            )
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=_StudySearcher(book, launch_until, stop),
                    scheduler=ASHAScheduler(
                        time_attr="training_iteration",
                        metric=METRIC,
                        mode="max",
                        max_t=o.max_t,
                        grace_period=o.grace_period,
                        reduction_factor=o.reduction_factor,
                    ),
                    num_samples=o.num_samples,
                    max_concurrent_trials=plan.max_concurrent_trials,
                    time_budget_s=None if hard is None else hard + _RAY_GRACE_S,
                    trial_dirname_creator=_trial_dirname,
                ),
                run_config=tune.RunConfig(
                    name=f"{o.suite}-{space.name}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
                    storage_path=str(ray_dir),
                    verbose=0,
                    callbacks=[recorder],
                    stop=StopTrials(stop),
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            )
            try:
                # Ray Tune prints a banner and a results path whatever ``verbose`` says; the
                # progress display (pinned to the real stream) is the run's display.
                with contextlib.redirect_stdout(io.StringIO()), _quiet_logger("ray.tune"):
                    tuner.fit()
            except BaseException as e:
                recorder.finish(e)
                raise
            recorder.finish()
        if recorder.error is not None:
            raise recorder.error  # our own callback failed: never hidden in a trial's error
        return recorder.rows


def _trial_dirname(trial: Any) -> str:
    return str(trial.trial_id)


@contextlib.contextmanager
def _pinned(console: Console) -> Iterator[None]:
    """Binds the console to the stream it writes to now, while stdout is redirected."""
    saved = console._file  # None: "whatever sys.stdout is when writing"
    console.file = console.file
    try:
        yield
    finally:
        console._file = saved


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
