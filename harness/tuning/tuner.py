"""Tuning one model with Ray Tune + Optuna (with `harness.distributed`, the ``ray`` users).

A *model* is a search-space file (``search_spaces/deepfm.toml``) and the family that trains it.
``tune_model`` runs a Ray Tune ``Tuner`` whose searcher asks a persistent Optuna study (TPE) for
each trial (`harness.tuning.studies`: one study per suite, model and search-space fingerprint, so
a second run adds trials to the same study while an edited file starts a new one); an
``ASHAScheduler`` stops poor trials on their per-epoch validation AUC. ``tune_arms`` runs the
arms of factor studies (`harness.studies`) the same way: one Ray Tune run for every arm and seed
(trial k of an arm trains with its seed k), one Optuna study per arm, no pruning, and trial
actors reused from one trial to the next. The parts live in their own modules: resources
(`resources`), the trainable (`trainable`), the typed reports it sends (`reports`), rows and
Optuna states (`recorder`, `rows`), the display (`progress`) and the stop request of a Ctrl-C
(`stop`).

Time: no trial starts after ``launch_until``; a running trial stops at the first epoch end past
``hard_deadline`` (its best epoch so far is kept: ``pruned`` by the budget), and Ray stops
whatever still runs shortly after it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler
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
from harness.tuning.rows import RowContext, StudyArm
from harness.tuning.space import SearchSpace
from harness.tuning.stop import StopRequest, StopTrials
from harness.tuning.studies import (
    StudyBook,
    StudyBooks,
    open_storage,
    run_folder_id,
    study_name,
)
from harness.tuning.trainable import (
    SPACE_KEY,
    STUDY_TRIAL_KEY,
    TRIAL_SEED_KEY,
    TrialSetup,
    run_trial,
)
from harness.urls import is_url

__all__ = [
    "METRIC",
    "ArmTrials",
    "ClusterResources",
    "ResourcePlan",
    "StudyArm",
    "TuneOptions",
    "plan_resources",
    "ray_session",
    "ray_storage_path",
    "study_name",
    "tune_arms",
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
        study_db: the SQLite file of the suite's Optuna studies (created if missing); its
            folder is the run folder, which every trial asked here names (``harness_run_folder``).
        results_path: the parquet results table; each ended trial is appended as it ends.
        dataset_id: the ``dataset`` column of the rows (default: the dataset's name).
        num_samples: trials to run in this call (`tune_arms`: its arms' seeds).
        time_budget_s: no trial starts after this many seconds.
        hard_time_limit_s: trials stop at their first epoch end after this many seconds
            (default 1.5 x ``time_budget_s``); they become "pruned" rows with their best epoch.
        seed: the training seed of every trial (the TPE seed is derived from it and the trials
            already in the study, so a re-run samples new points); `tune_arms` gives each trial
            its arm's seed instead.
        cpus_per_trial: CPUs (training threads) per trial.
        gpus_per_trial: GPUs per trial (fractions share a GPU); 0 when the cluster has none.
        max_concurrent_trials: cap on parallel trials (default: as many as the resources fit).
        address: join this Ray cluster; default: start a local one (or use the one running).
        num_cpus: CPUs of a local cluster started here (default: all).
        ray_dir: Ray Tune's experiment state and trial folders (``RunConfig.storage_path``): a
            local folder (made absolute; on a cluster, one that every node reaches) or a URI
            such as ``s3://bucket/harness`` (default: ``ray/`` next to ``study_db``).
        grace_period: epochs a trial always gets before ASHA may stop it.
        reduction_factor: ASHA keeps the best 1/reduction_factor at each rung.
        max_t: ASHA's epoch cap (large: the family's own early stopping ends a trial).
        show_progress: show a live display of trials, the best valid AUC and the latest epoch.
        storage_url: an Optuna storage URL (e.g. PostgreSQL on a cluster, shared by several
            run folders) instead of the SQLite file ``study_db``.
        gpus_explicit: the user asked for ``gpus_per_trial`` (``--gpus-per-trial``): a cluster
            that cannot give it is an error, not a note.
        predictions_dir: keep each complete trial's test predictions there (``<trial id>.npy``,
            named in its row); None: not kept.
        teachers_dir: where the run keeps its teachers' scores of the training rows
            (`harness.teachers`), for trials that distil (``TrainContext.teachers_dir``); made
            absolute, since a trial runs in its own folder. None: no teachers.
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
    ray_dir: Path | str | None = None
    grace_period: int = 1
    reduction_factor: int = 3
    max_t: int = 100_000
    show_progress: bool = True
    storage_url: str | None = None
    gpus_explicit: bool = False
    predictions_dir: Path | None = None
    teachers_dir: Path | None = None


@dataclass(frozen=True)
class ArmTrials:
    """A constant configuration for `tune_arms` and a trial per seed: an arm of a factor study,
    or a model's best search configuration trained again (the repeat stage).

    Attributes:
        space: the configuration as a search space with no searched parameter, named after its
            model (preset).
        arm: the study, arm and base its rows are tagged with (None: a repeat).
        seeds: the training seed of each of its trials.
        repeat_of: the search trial a repeat trains again (``"<study>#<trial number>"``; the
            rows' ``repeat_of``); "" for a study's arm.
    """

    space: SearchSpace
    arm: StudyArm | None
    seeds: tuple[int, ...]
    repeat_of: str = ""

    def __post_init__(self) -> None:
        if not self.seeds:
            raise ValueError(f"an arm to run needs at least one seed, got {self.seeds=}")
        if self.space.params:
            raise ValueError(f"an arm's space searches nothing, got {self.space.names}")
        if (self.arm is None) == (not self.repeat_of):
            raise ValueError(
                f"give a study arm or a repeated trial, got {self.arm=} {self.repeat_of=}"
            )


# A trial of a tuning call: the index of its space (and Optuna study) and its own seed, if any.
_Slot = tuple[int, int | None]


@dataclass(frozen=True)
class _Job:
    """A space of a tuning call and what its rows are tagged with."""

    space: SearchSpace
    arm: StudyArm | None = None
    repeat_of: str = ""


class _StudySearcher(Searcher):
    """Asks each trial's Optuna study for its parameters, slot by slot; finishes when the slots
    are used, at ``launch_until`` or at a stop.

    Outcomes are told to the studies by the ``TrialRecorder`` (which knows why a trial ended),
    not here: Ray's searcher interface cannot tell a pruned trial from a finished one.
    """

    def __init__(
        self,
        books: StudyBooks,
        slots: tuple[_Slot, ...],
        launch_until: float | None,
        stop: StopRequest,
    ) -> None:
        super().__init__(metric=METRIC, mode="max")
        self._books: StudyBooks | None = books
        self._slots = slots
        self._launch_until = launch_until
        self._stop: StopRequest | None = stop
        self._asked = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:  # type: ignore[override]
        late = self._launch_until is not None and time.time() >= self._launch_until
        if self._books is None or self._stop is None or late or self._stop.requested:
            return Searcher.FINISHED  # a string: Ray Tune starts no more trials
        if self._asked >= len(self._slots):
            return Searcher.FINISHED
        index, seed = self._slots[self._asked]
        self._asked += 1
        number, params = self._books.ask(trial_id, index, seed)
        own = {} if seed is None else {TRIAL_SEED_KEY: seed}
        return {**params, STUDY_TRIAL_KEY: number, SPACE_KEY: index, **own}

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        pass

    def __getstate__(self) -> dict[str, Any]:
        # The studies live in their storage: a pickled copy (Ray's experiment state) asks nothing.
        state = self.__dict__.copy()
        state["_books"] = state["_stop"] = None
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

    Trial processes are reused from one trial to the next (a trial ASHA stops frees its process
    for the next one), as in `tune_arms`.

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
    if options.num_samples < 1:
        raise HarnessError(f"num_samples must be at least 1, got {options.num_samples}")
    return _tune(
        [_Job(space)],
        ((0, None),) * options.num_samples,
        dataset,
        options,
        family=family,
        load_dataset=load_dataset,
        console=console,
        stop=stop,
        on_row=on_row,
        label=space.name,
        scheduler=ASHAScheduler(
            time_attr="training_iteration",
            metric=METRIC,
            mode="max",
            max_t=options.max_t,
            grace_period=options.grace_period,
            reduction_factor=options.reduction_factor,
        ),
        # A trial's process is kept for the next trial: a fresh one costs about 4 s of imports
        # and a cold first fit (benchmarks/ray_overhead.py).
        reuse_actors=True,
    )


def tune_arms(
    arms: Sequence[ArmTrials],
    dataset: EncodedDataset,
    options: TuneOptions,
    *,
    family: Family | None = None,
    load_dataset: Callable[[str], EncodedDataset] | None = None,
    console: Console | None = None,
    stop: StopRequest | None = None,
    on_row: Callable[[TrialResult], None] = lambda _row: None,
    label: str = "study",
) -> list[TrialResult]:
    """Runs factor-study arms: a trial per arm and seed, in order, as one Ray Tune run.

    As `tune_model` (``options.num_samples`` aside: the arms' seeds say how many trials), except
    that nothing prunes a trial (every seed runs to its own early stopping; the time limits of
    ``options`` still hold), each trial trains with its arm's seed, and a trial actor is reused
    for the next trial (one Python process start per concurrent slot, not per trial). Each arm
    has an Optuna study of its own (``"<suite>/<study>:<arm>/<preset>@<fingerprint>"``).

    Raises:
        HarnessError: no arm, arms of different families, the cluster cannot run a trial, or
            Ray cannot start.
    """
    if not arms:
        raise HarnessError("no study arm to run")
    families = {a.space.family for a in arms}
    if len(families) != 1:
        raise HarnessError(f"the arms of one call must share a family, got {sorted(families)}")
    slots = tuple((i, seed) for i, a in enumerate(arms) for seed in a.seeds)
    return _tune(
        [_Job(a.space, a.arm, a.repeat_of) for a in arms],
        slots,
        dataset,
        options,
        family=family,
        load_dataset=load_dataset,
        console=console,
        stop=stop,
        on_row=on_row,
        label=label,
        scheduler=FIFOScheduler(),  # type: ignore[no-untyped-call]
        reuse_actors=True,
    )


def _tune(
    jobs: Sequence[_Job],
    slots: tuple[_Slot, ...],
    dataset: EncodedDataset,
    o: TuneOptions,
    *,
    family: Family | None,
    load_dataset: Callable[[str], EncodedDataset] | None,
    console: Console | None,
    stop: StopRequest | None,
    on_row: Callable[[TrialResult], None],
    label: str,
    scheduler: TrialScheduler,
    reuse_actors: bool = False,
) -> list[TrialResult]:
    """One Ray Tune run over ``slots`` (which space, which seed) of ``jobs``' spaces."""
    if family is None:
        from harness.families.registry import get_family  # the registry turns names into objects

        family = get_family(jobs[0].space.family)
    for job in jobs:
        if job.space.family != family.name:
            raise HarnessError(
                f"{job.space.path}: family: the space is for {job.space.family!r}, not "
                f"{family.name!r}"
            )
    stop = stop or StopRequest()
    console = console or Console()
    study_db = Path(o.study_db).resolve()
    study_db.parent.mkdir(parents=True, exist_ok=True)
    ray_dir = ray_storage_path(o.ray_dir, study_db.parent)
    start = time.time()
    launch_until = None if o.time_budget_s is None else start + o.time_budget_s
    hard = o.hard_time_limit_s or (None if o.time_budget_s is None else 1.5 * o.time_budget_s)
    hard_deadline = None if hard is None else start + hard

    # Before Ray starts: a database that refuses the connection is a one-line error at once.
    storage = open_storage(o.storage_url or study_db)
    owner = run_folder_id(study_db.parent)
    with ray_session(o.address, num_cpus=o.num_cpus):
        plan = plan_resources(
            ray.cluster_resources(),  # type: ignore[no-untyped-call]
            cpus_per_trial=o.cpus_per_trial,
            gpus_per_trial=o.gpus_per_trial,
            num_samples=len(slots),
            max_concurrent_trials=o.max_concurrent_trials,
            gpus_explicit=o.gpus_explicit,
        )
        for note in plan.notes:
            console.print(f"[yellow]{escape(note)}: trials run without GPUs[/]")
        books = StudyBooks(
            [
                StudyBook(storage, job.space, _row_context(o, dataset, job, plan), o.seed, owner)
                for job in jobs
            ]
        )
        use_cache = dataset.cache_dir is not None and load_dataset is not None
        setup = TrialSetup(
            family=family,
            spaces=tuple(job.space for job in jobs),
            seed=o.seed,
            cpus=plan.cpus_per_trial,
            cache_dir=dataset.cache_dir if use_cache else None,
            load_dataset=load_dataset if use_cache else None,
            deadline=hard_deadline,
            keep_predictions=o.predictions_dir is not None,
            teachers_dir=None if o.teachers_dir is None else str(Path(o.teachers_dir).resolve()),
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
            TuningProgress(console, label, len(slots), enabled=o.show_progress) as progress,
        ):
            recorder = TrialRecorder(
                books,
                write,
                stop,
                hard_deadline,
                progress=progress.trial_done,
                epoch_seen=progress.epoch,
                predictions_dir=o.predictions_dir,
            )
            tuner = tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=_StudySearcher(books, slots, launch_until, stop),
                    scheduler=scheduler,
                    num_samples=len(slots),
                    max_concurrent_trials=plan.max_concurrent_trials,
                    time_budget_s=None if hard is None else hard + _RAY_GRACE_S,
                    reuse_actors=reuse_actors,
                    trial_dirname_creator=_trial_dirname,
                ),
                run_config=tune.RunConfig(
                    name=f"{o.suite}-{label}-{datetime.now(UTC):%Y%m%dT%H%M%S%f}",
                    storage_path=ray_dir,
                    verbose=0,
                    callbacks=[recorder],
                    stop=StopTrials(stop),
                    failure_config=tune.FailureConfig(max_failures=0),
                ),
            )
            try:
                # Ray Tune prints a banner and a results path whatever ``verbose`` says; the
                # progress display (pinned to the real stream) is the run's display.
                with (
                    contextlib.redirect_stdout(io.StringIO()),
                    _quiet_logger("ray.tune"),
                    _sigint_kept(),
                ):
                    tuner.fit()
            except BaseException as e:
                recorder.finish(e)
                raise
            recorder.finish()
        if recorder.error is not None:
            raise recorder.error  # our own callback failed: never hidden in a trial's error
        return recorder.rows


def ray_storage_path(ray_dir: Path | str | None, run_dir: Path) -> str:
    """Ray Tune's ``storage_path``: a URI (``s3://...``) as given, a local folder made absolute,
    or ``<run_dir>/ray`` by default."""
    if ray_dir is None:
        return str(run_dir / "ray")
    if is_url(ray_dir):
        return str(ray_dir)
    return str(Path(ray_dir).expanduser().resolve())


def _row_context(
    o: TuneOptions, dataset: EncodedDataset, job: _Job, plan: ResourcePlan
) -> RowContext:
    space, arm = job.space, job.arm
    return RowContext(
        suite=o.suite,
        dataset=o.dataset_id or dataset.name,
        protocol=dataset.protocol,
        family=space.family,
        model=space.name,
        fingerprint=space.fingerprint,
        study=study_name(o.suite, space, arm, repeat=bool(job.repeat_of)),
        seed=o.seed,
        notes=plan.notes,
        factor_study=arm.study if arm else "",
        arm=arm.arm if arm else "",
        base_source=arm.base_source if arm else "",
        repeat_of=job.repeat_of,
    )


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
def _sigint_kept() -> Iterator[None]:
    """Puts back the SIGINT handler after a tuning: Ray Tune installs its own and leaves it
    (in the main thread), which would swallow the next Ctrl-C of the caller."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


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
