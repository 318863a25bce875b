"""``harness run``: raw data to leaderboard, one suite at a time.

Order matters for a user's time: every model name and search space is checked before any data
is read, and the output folder is checked writable and locked (`harness.run_folder`); every
space is checked against the dataset's schema before any trial runs (each corner of the space is
built on torch's meta device: an impossible rank or width is a one-line error, not a failed
trial), and the leaderboard is rewritten after each model, so an interrupted run keeps what it
finished.

A folder holding an earlier run is continued with ``--resume``: trials recorded there count
toward ``--trials`` (an interrupted one does not), trials a killed run left running are closed
as interrupted, and the time budget is what the invocations together may spend. One Ctrl-C
stops the run (see `harness.tuning.stop`) and exits 130 after writing the leaderboard.

``harness run --study`` runs factor studies instead of a search (`harness.study_pipeline`, which
uses the helpers here): the same folder, lock, data and leaderboard; a study's trials are an
addition to the run in the folder.

The time budget is shared by the models' searches in turn, then by the repeat seeds of each
model's best (`harness.repeats` says how much each gets): each search gets what is left, less
the time kept for the repeats, divided by the models left (time one model leaves unused goes to
the next ones). No trial starts in the last fifth of a window, and a trial still running at its
end stops at its next epoch end, keeping the scores of its best epoch so far, so no model eats
into another's share.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from rich.console import Console
from rich.markup import escape

import harness
from harness.atomic import replace_atomically, write_text_atomic
from harness.data.cache import load_encoded
from harness.data.card import DatasetCard, load_card
from harness.data.preprocess import PreprocessConfig, prepare_dataset
from harness.data.registry import write_synthetic
from harness.data.schema import EncodedDataset
from harness.data.sources import DataSource, resolve_data
from harness.data.splits import get_protocol
from harness.environment import Environment
from harness.errors import HarnessError, RunInterruptedError
from harness.families.registry import get_family
from harness.leaderboard.console import leaderboard_table
from harness.leaderboard.markdown import RunInfo
from harness.leaderboard.publish import Board, publish
from harness.leaderboard.references import applicable_references
from harness.leaderboard.summary import ModelSummary, StudySummary
from harness.paths import cache_root, downloads_dir, first_in, lookup_folders, names_in
from harness.repeats import (
    REPEAT_SHARE,
    TEST_LABELS,
    RepeatCost,
    RepeatPlan,
    plan_repeat,
    repeat_order,
    repeat_seeds,
    repeat_window,
    search_window,
)
from harness.results.table import TrialResult, append_results, is_search_trial, read_results
from harness.run_folder import (
    RunLock,
    RunPaths,
    RunState,
    check_storage_path,
    check_writable,
    move_aside,
)
from harness.studies.files import study_dirs, study_files_of
from harness.suites import Suite, get_suite, suite_for_card
from harness.teachers import check_teachers, prepare_teachers, teachers_asked
from harness.tuning.resources import plan_resources
from harness.tuning.space import SearchSpace, load_search_space
from harness.urls import masked_url

if TYPE_CHECKING:
    from harness.tuning.stop import StopRequest
    from harness.tuning.tuner import TuneOptions

__all__ = [
    "LAUNCH_SHARE",
    "MIN_SHARE_S",
    "TEARDOWN_S",
    "RunOptions",
    "RunOutcome",
    "RunPaths",
    "available_models",
    "check_against_data",
    "check_optuna_storage",
    "checked_paths",
    "close_stale",
    "find_model",
    "load_cached",
    "load_models",
    "open_run",
    "prepare_data",
    "run_info",
    "run_suite",
    "same_data",
    "search_space_dirs",
    "suite_and_card",
    "trial_gpus",
    "tune_options",
    "write_leaderboard",
]


# Epochs every trial gets before ASHA may stop it. A GBDT "epoch" is a block of boosting rounds
# (rounds_per_epoch in its search space): stopping after the first block would favour high
# learning rates, so GBDTs get a few blocks first.
_GRACE_EPOCHS = {"neural": 1, "gbdt": 4}
# No trial starts in the last fifth of a model's share; the share's end stops those running.
LAUNCH_SHARE = 0.8
# Seconds of a share kept for stopping trials (Ray's own stop comes 3 s after the trials' deadline)
# and closing the tuning, so the share holds.
TEARDOWN_S = 5.0
# A model is not started with less than this left.
MIN_SHARE_S = 5.0


@dataclass(frozen=True)
class RunOptions:
    """Everything ``harness run`` was asked; None means "the suite's (or card's) default".

    ``card`` runs a user's own dataset card (``--card``): the suite is then that card's, with
    the default models; ``valid`` and ``test`` are pre-split files next to ``data``. ``studies``
    runs factor studies (``--study``, `harness.studies`) instead of a search, each arm with
    ``seeds`` seeds, on the one neural preset of ``models`` (or the folder's best).
    """

    suite: str | None
    data: str | None = None
    card: Path | None = None
    valid: str | None = None
    test: str | None = None
    models: tuple[str, ...] | None = None
    trials: int | None = None
    time_budget_s: float | None = None
    protocol: str | None = None
    min_count: int | None = None
    bad_rows: str = "error"
    address: str | None = None
    cpus_per_trial: int | None = None
    # None: one GPU per neural trial when the cluster has GPUs, none otherwise (no warning).
    gpus_per_trial: float | None = None
    seed: int = 0
    synthetic_rows: int | None = None
    out: Path = Path(".")
    search_spaces: Path | None = None
    progress: bool = True
    # An earlier run in the same folder: continue it (resume) or move it aside (fresh).
    resume: bool = False
    fresh: bool = False
    # The command line, for the run's record and the leaderboard.
    command: str = ""
    studies: tuple[str, ...] | None = None
    # Seeds of the repeat stage after a search (0: none), or of each study arm (at least 1).
    seeds: int = 3
    # An Optuna storage URL instead of the folder's SQLite file (a cluster's PostgreSQL).
    optuna_storage: str | None = None
    # Ray Tune's experiment state (a shared filesystem or URI) instead of runs/<suite>/ray.
    storage_path: str | None = None

    def __post_init__(self) -> None:
        if self.seeds < 0 or (self.studies is not None and self.seeds < 1):
            raise ValueError(f"seeds must be at least 1 for a study, 0 or more else: {self.seeds=}")


@dataclass(frozen=True)
class RunOutcome:
    """What a run produced."""

    paths: RunPaths
    dataset: EncodedDataset
    summaries: tuple[ModelSummary, ...]
    trials: tuple[TrialResult, ...] = field(default=())
    studies: tuple[StudySummary, ...] = field(default=())


def search_space_dirs(explicit: Path | None = None) -> list[Path]:
    """``explicit`` alone, else ``./search_spaces`` (your models) then the shipped ones."""
    return lookup_folders("search_spaces", explicit)


def available_models(folders: Sequence[Path]) -> tuple[str, ...]:
    """The model names (search-space file stems) in the lookup folders, sorted."""
    return names_in(folders)


def find_model(name: str, folders: Sequence[Path]) -> Path | None:
    """The first ``<name>.toml`` in the lookup folders."""
    return first_in(name, folders)


def load_models(names: Sequence[str], folders: Sequence[Path]) -> list[SearchSpace]:
    """The validated search space of each named model (duplicates dropped, order kept).

    Raises:
        HarnessError: no names, or a name without a file (listing the models there).
    """
    if not names:
        raise HarnessError(f"--models is empty; valid: {', '.join(available_models(folders))}")
    spaces = []
    for name in dict.fromkeys(names):
        path = find_model(name, folders)
        if path is None:
            where = ", ".join(map(str, folders))
            raise HarnessError(
                f"no model {name!r}: no {name}.toml in {where}; models: "
                f"{', '.join(available_models(folders)) or 'none'} (a model is a search-space file)"
            )
        spaces.append(load_search_space(path))
    return spaces


def check_against_data(spaces: Sequence[SearchSpace], dataset: EncodedDataset) -> int:
    """Checks every corner of every space against ``dataset`` before any trial runs.

    Returns:
        How many configurations were checked.

    Raises:
        HarnessError: one line naming the file, the key and why the schema rejects it.
    """
    checked = 0
    for space in spaces:
        checked += space.check(
            functools.partial(get_family(space.family).validate, data=dataset),
            against=f"{dataset.title} ({dataset.schema.n_num} numeric, "
            f"{dataset.schema.n_cat} categorical, {len(dataset.schema.labels)} task(s))",
        )
    return checked


def _fitting_defaults(
    spaces: Sequence[SearchSpace], dataset: EncodedDataset, console: Console
) -> tuple[list[SearchSpace], int]:
    """The suite's default models that fit the dataset; the others are left out with a note.

    A default model (not named with ``--models``) may not fit a small table (DLRM's dot product
    needs two field tokens, a cross rank of 128 a flat input of 128): it is skipped rather than
    stopping the run. Raises when no model fits.
    """
    kept, checked = [], 0
    for space in spaces:
        try:
            checked += check_against_data([space], dataset)
            kept.append(space)
        except HarnessError as e:
            console.print(
                f"[yellow]{space.name} left out: it does not fit this dataset ({escape(str(e))})[/]"
            )
    if not kept:
        raise HarnessError(f"none of the default models fits {dataset.title}; pass --models")
    return kept, checked


def prepare_data(
    card: DatasetCard, suite: Suite, opts: RunOptions, source: DataSource, console: Console
) -> EncodedDataset:
    """The run's encoded dataset: the data found, else a synthetic stand-in (said on the
    console), preprocessed once and then read from the cache."""
    config = PreprocessConfig.for_files(
        source.files,
        protocol=opts.protocol,
        default_protocol=suite.protocol or card.protocol,
        min_count=opts.min_count or suite.min_count or card.min_count,
        seed=opts.seed,
        bad_rows=opts.bad_rows,
    )
    if source.files is not None:
        console.print(f"data: {escape(str(source.path))} (from {escape(source.origin)})")
        if opts.address is not None and len(source.files.main) > 1:
            # Several raw files and a cluster: one Ray task per file (harness/distributed/).
            from harness.distributed.prepare import prepare_distributed

            return prepare_distributed(
                card,
                source.files,
                config,
                cache_root=cache_root(),
                address=opts.address,
                progress=opts.progress,
            )
        return prepare_dataset(
            card, source.files, config, cache_root=cache_root(), progress=opts.progress
        )
    rows = opts.synthetic_rows or suite.synthetic_rows or card.synthetic.rows
    fetch = (
        f"`harness data fetch {card.name}`"
        if card.download is not None
        else "--data PATH (see the card for where to get it)"
    )
    console.print(
        f"[yellow]no {card.name} data found (--data, $HARNESS_DATA_DIR, {downloads_dir()}): "
        f"running on a SYNTHETIC {card.name}-shaped dataset of {rows:,} rows instead; "
        f"for real data: {fetch}[/]"
    )
    folder = downloads_dir() / "synthetic" / f"{card.name}-{rows}-seed0"
    with console.status(f"writing {rows:,} synthetic rows to {folder}"):
        files = write_synthetic(card, folder, rows, seed=0)
    return prepare_dataset(
        card, files, config, cache_root=cache_root(), progress=opts.progress, synthetic=True
    )


def load_cached(cache_dir: str) -> EncodedDataset:
    # Each trial memory-maps the cache itself: no copy through Ray's object store.
    return load_encoded(Path(cache_dir))


def _protocol_text(name: str) -> str:
    return f"{name}: {get_protocol(name).description}"


def _resources(cpus_per_trial: int, address: str | None) -> str:
    where = f"Ray cluster {address}" if address else f"local Ray, {os.cpu_count()} CPUs"
    return f"{where}, {cpus_per_trial} CPU per trial"


def suite_and_card(opts: RunOptions) -> tuple[Suite, DatasetCard]:
    """The suite (named, or a user's card's) and its dataset card."""
    if opts.card is not None:
        card = load_card(opts.card)
        if opts.suite is not None and opts.suite != card.name:
            raise HarnessError(
                f"--suite {opts.suite} and --card {opts.card} (dataset {card.name!r}): give one"
            )
        return suite_for_card(card), card
    if opts.suite is None:
        raise HarnessError("give --suite NAME (see `harness suites`) or --card FILE for your data")
    suite = get_suite(opts.suite)
    return suite, load_card(suite.dataset)


def run_suite(opts: RunOptions, console: Console) -> RunOutcome:
    """Runs one suite end to end and writes its leaderboard; see the module docstring.

    Raises:
        HarnessError: a user mistake, in one line, before any work it would waste.
        RunInterruptedError: Ctrl-C stopped the run; what finished is on the leaderboard.
    """
    suite, card = suite_and_card(opts)
    spaces = load_models(opts.models or suite.models, search_space_dirs(opts.search_spaces))
    source = resolve_data(card, opts.data, valid=opts.valid, test=opts.test)
    paths = checked_paths(opts, suite, source)
    with RunLock(paths):
        earlier = open_run(paths, opts, console)
        dataset = prepare_data(card, suite, opts, source, console)
        with console.status("checking every search space against the dataset's schema"):
            if opts.models:  # asked for by name: each must fit
                checked = check_against_data(spaces, dataset)
            else:
                spaces, checked = _fitting_defaults(spaces, dataset, console)
        console.print(f"search spaces: {checked} corner configurations fit the dataset")
        return _tune_suite(opts, suite, card, dataset, spaces, paths, earlier, console)


def checked_paths(opts: RunOptions, suite: Suite, source: DataSource) -> RunPaths:
    """The run's folders, each output checked writable (and the Optuna storage reachable)
    before any data is read.

    Raises:
        HarnessError: an output that cannot be written, or a storage that cannot be opened.
    """
    paths = RunPaths.of(opts.out, suite.name, synthetic=source.files is None)
    check_writable(paths.run_dir.parent, paths.leaderboard.parent)
    check_storage_path(opts.storage_path)
    check_optuna_storage(opts.optuna_storage)
    return paths


def open_run(paths: RunPaths, opts: RunOptions, console: Console) -> RunState | None:
    """The earlier run in the folder to continue (``--resume``, or a study: an addition to the
    run), or None for a new run.

    Raises:
        HarnessError: the folder holds results and neither ``--resume`` nor ``--fresh`` says
            what to do with them.
    """
    if not paths.has_results():
        if opts.resume:
            console.print(f"nothing to resume in {escape(str(paths.run_dir))}: starting a new run")
        return None
    if opts.fresh:
        moved = move_aside(paths)
        console.print(f"moved the earlier run to {escape(str(moved))}; starting a new run")
        return None
    state = RunState.load(paths.state)
    if not opts.resume and opts.studies is None:
        trials = len(read_results(paths.results)) if paths.results.exists() else 0
        last = state.invocations[-1] if state and state.invocations else None
        when = f", last started {last.started_at}, {last.outcome}" if last else ""
        raise HarnessError(
            f"{paths.run_dir} holds an earlier run ({trials} trials{when}); add --resume to "
            "continue it, or --fresh to move it aside and start over"
        )
    return state or RunState(dataset_id="", time_budget_s=0.0, trials_per_model=0)


def _tune_suite(
    opts: RunOptions,
    suite: Suite,
    card: DatasetCard,
    dataset: EncodedDataset,
    spaces: Sequence[SearchSpace],
    paths: RunPaths,
    earlier: RunState | None,
    console: Console,
) -> RunOutcome:
    from harness.tuning.stop import StopRequest  # these import ray
    from harness.tuning.tuner import ray_session

    dataset_id = same_data(paths, dataset, earlier)
    # Before the run starts: a teacher that neither the folder nor an earlier model can give.
    check_teachers(
        spaces,
        read_results(paths.results) if paths.results.exists() else [],
        dataset_id=dataset_id,
        suite=suite.name,
    )
    trials = opts.trials or suite.trials
    default_budget = suite.synthetic_time_budget_s if dataset.synthetic else suite.time_budget_s
    budget = opts.time_budget_s or default_budget
    state = dataclasses.replace(
        earlier or RunState(dataset_id, budget, trials),
        dataset_id=dataset_id,
        time_budget_s=budget,
        trials_per_model=trials,
    ).started(opts.command or "harness run")
    state.save(paths.state)
    close_stale(paths, console, opts.optuna_storage)
    info = run_info(opts, suite, card, dataset, spaces, paths, trials, budget)
    study_folders = study_dirs(opts.search_spaces)
    if dataset.skipped_rows:
        console.print(f"[yellow]skipped {dataset.skipped_rows:,} malformed rows (--bad-rows skip)")
    console.print(
        f"{escape(dataset.title)}: train {dataset.train.n_rows:,} · valid "
        f"{dataset.valid.n_rows:,} · test {dataset.test.n_rows:,} rows, protocol {dataset.protocol}"
    )
    done = _trials_done(paths, dataset_id)
    seeds = repeat_seeds(opts.seed, opts.seeds)
    recorded = read_results(paths.results) if paths.results.exists() else []
    pending = [
        (
            s,
            trials - done.get((s.name, s.fingerprint), 0),
            _repeats_left(recorded, dataset_id, s, seeds),
        )
        for s in spaces
    ]
    for space, left_trials, repeats in pending:
        if left_trials <= 0:
            more = f"; {repeats} repeat seeds to run" if repeats else "; nothing to run"
            console.print(f"{space.name}: {trials} trials already recorded{more}")
    pending = [(s, n, r) for s, n, r in pending if n > 0 or r > 0]
    budget_left = budget - state.spent_total
    if pending and budget_left <= 0:
        console.print(
            f"[yellow]the time budget of {budget:g} s is spent; pass a larger --time-budget to "
            "run the models left[/]"
        )
    if seeds:
        _save_test_labels(paths, dataset)
    stop = StopRequest()
    this_run: list[TrialResult] = []
    summaries: list[ModelSummary] = []
    outcome = "failed"
    try:
        with (
            ray_session(opts.address) as cluster,
            # After ray.init, which installs its own SIGTERM handler.
            stop.listening(lambda text: console.print(f"[yellow]{text}[/]")),
        ):
            gpus = trial_gpus(opts, cluster.gpus)
            if opts.gpus_per_trial and any(
                get_family(s.family).kind == "neural" for s, _, _ in pending
            ):
                # Asked for by name: a cluster without them fails now, not after the GBDTs.
                plan_resources(
                    {"CPU": cluster.cpus, "GPU": cluster.gpus},
                    cpus_per_trial=opts.cpus_per_trial or 1,
                    gpus_per_trial=opts.gpus_per_trial,
                    num_samples=1,
                    gpus_explicit=True,
                )
            stages = _Stages(
                opts, paths, dataset_id, dataset, spaces, info, state, console, stop,
                gpus=gpus, cluster={"CPU": cluster.cpus, "GPU": cluster.gpus},
                deadline=time.monotonic() + budget_left, seeds=seeds,
                study_folders=study_folders,
            )  # fmt: skip
            try:
                stages.search([(s, n) for s, n, _ in pending if n > 0])
                if seeds and not stop.requested:
                    stages.repeat([s for s, _, _ in pending])
            finally:
                state, summaries = stages.state, stages.summaries
                this_run += stages.recorded
        outcome = "interrupted" if stop.requested else "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    finally:
        state = state.ended(outcome)
        state.save(paths.state)
    summaries, _ = write_leaderboard(
        paths, info, spaces, state, outcome == "interrupted", study_folders=study_folders
    )
    console.print(leaderboard_table(f"Leaderboard: {dataset.title}", summaries))
    console.print(
        f"leaderboard: {escape(str(paths.leaderboard))}\nevery trial: {escape(str(paths.results))}"
    )
    if outcome == "interrupted":
        raise RunInterruptedError(
            f"interrupted: {len(this_run)} trials recorded in this run, the leaderboard of what "
            f"finished is {paths.leaderboard}; the same command with --resume continues it",
            signum=stop.signum or signal.SIGINT,
        )
    return RunOutcome(paths, dataset, tuple(summaries), tuple(this_run))


class _Stages:
    """The two stages of a search run within one deadline: each model's search in turn, then
    the repeats of each model's best (`harness.repeats` says how the time is shared).

    Every model's time is added to the run state after each trial and when it ends, and the
    leaderboard is rewritten after each model, so an interrupted run keeps what it finished.
    """

    def __init__(
        self,
        opts: RunOptions,
        paths: RunPaths,
        dataset_id: str,
        dataset: EncodedDataset,
        spaces: Sequence[SearchSpace],
        info: RunInfo,
        state: RunState,
        console: Console,
        stop: StopRequest,
        *,
        gpus: float,
        cluster: dict[str, float],
        deadline: float,
        seeds: tuple[int, ...],
        study_folders: Sequence[Path],
    ) -> None:
        self.opts, self.paths, self.dataset_id, self.dataset = opts, paths, dataset_id, dataset
        self.spaces, self.info, self.state, self.console, self.stop = (
            spaces, info, state, console, stop
        )  # fmt: skip
        self.gpus, self.cluster, self.deadline, self.seeds = gpus, cluster, deadline, seeds
        self.study_folders = study_folders
        # The most of this invocation's time the searches leave for the repeats.
        self.pool = REPEAT_SHARE * (deadline - time.monotonic()) if seeds else None
        self.recorded: list[TrialResult] = []
        self.summaries: list[ModelSummary] = []
        # Repeats still needed by the models searched so far, and what they will take.
        self.reserved: dict[str, tuple[RepeatPlan, RepeatCost]] = {}

    def search(self, to_search: Sequence[tuple[SearchSpace, int]]) -> None:
        """Each model's search in turn, ``n`` trials each, leaving time for the repeats."""
        from harness.tuning.tuner import tune_model  # imports ray

        for i, (space, n) in enumerate(to_search):
            if self.stop.requested:
                return
            self._teachers(space)  # before the window: a teacher's refit spends the time left
            window = search_window(
                self.deadline - time.monotonic(),
                len(to_search) - i,
                [cost.seconds(len(plan.pending)) for plan, cost in self.reserved.values()],
                pool=self.pool,
            )
            if window < MIN_SHARE_S:
                self.console.print(f"[yellow]time budget spent: {space.name} not tuned[/]")
                continue
            kind = get_family(space.family).kind
            with self._timed(space.name) as on_row:
                self.recorded += tune_model(
                    space,
                    self.dataset,
                    self._options(space, window, num_samples=n, grace_period=_GRACE_EPOCHS[kind]),
                    load_dataset=load_cached,
                    console=self.console,
                    stop=self.stop,
                    on_row=on_row,
                )
            plan = self._plan(space, read_results(self.paths.results))
            if plan is not None and plan.pending:
                self.reserved[space.name] = (plan, self._cost(space, plan))

    def repeat(self, spaces: Sequence[SearchSpace]) -> None:
        """The repeat seeds every model still needs: the reference GBDT's first, each model its
        measured need while the time allows, then the seeds that fit."""
        from harness.tuning.tuner import ArmTrials, tune_arms  # imports ray

        rows = read_results(self.paths.results) if self.paths.results.exists() else []
        plans = {s.name: p for s in spaces if (p := self._plan(s, rows)) and p.pending}
        by_name = {s.name: s for s in spaces}
        gbdts = {s.name for s in spaces if get_family(s.family).kind == "gbdt"}
        order = repeat_order(list(plans.values()), gbdts)
        costs = {p.model: self._cost(by_name[p.model], p) for p in order}
        for i, plan in enumerate(order):
            if self.stop.requested:
                return
            self._teachers(plan.space)
            cost, wanted = costs[plan.model], len(plan.pending)
            left = self.deadline - time.monotonic()
            later = sum(costs[p.model].seconds(len(p.pending)) for p in order[i + 1 :])
            n, window = repeat_window(cost, wanted, left, later)
            if n == 0 or window < MIN_SHARE_S:
                self.console.print(
                    f"[yellow]{plan.model}: its {wanted} repeat seeds need about "
                    f"{cost.seconds(wanted):.0f} s, {max(left, 0.0):.0f} s are left: not run (a "
                    "larger --time-budget runs them)[/]"
                )
                continue
            if n < wanted:
                self.console.print(
                    f"[yellow]{plan.model}: {n} of its {wanted} repeat seeds fit in the "
                    f"{left:.0f} s left[/]"
                )
            with self._timed(plan.model) as on_row:
                self.recorded += tune_arms(
                    [ArmTrials(plan.space, None, plan.pending[:n], repeat_of=plan.key)],
                    self.dataset,
                    self._options(
                        by_name[plan.model], window, predictions_dir=self.paths.predictions
                    ),
                    load_dataset=load_cached,
                    console=self.console,
                    stop=self.stop,
                    on_row=on_row,
                    label=f"{plan.model} seeds",
                )

    @contextlib.contextmanager
    def _timed(self, model: str) -> Iterator[Callable[[TrialResult], None]]:
        """Adds the model's time to the run state after every trial (a killed run loses at most
        one trial's time) and at the end, then rewrites the leaderboard."""
        t0 = time.monotonic()
        base = self.state

        def on_row(_row: TrialResult) -> None:
            base.spent(model, time.monotonic() - t0).save(self.paths.state)

        try:
            yield on_row
        finally:
            self.state = self.state.spent(model, time.monotonic() - t0)
            self.state.save(self.paths.state)
            self.summaries, _ = write_leaderboard(
                self.paths,
                self.info,
                self.spaces,
                self.state,
                self.stop.requested,
                study_folders=self.study_folders,
            )

    def _plan(self, space: SearchSpace, rows: Sequence[TrialResult]) -> RepeatPlan | None:
        return plan_repeat(
            rows,
            dataset=self.dataset_id,
            model=space.name,
            fingerprint=space.fingerprint,
            seeds=self.seeds,
            results=str(self.paths.results),
        )

    def _teachers(self, space: SearchSpace) -> None:
        """The scores of the teachers ``space`` distils from, computed once per run folder
        before its trials launch (`harness.teachers`)."""
        names = teachers_asked([space])
        if names:
            prepare_teachers(
                names,
                self.paths.teachers,
                self.dataset,
                read_results(self.paths.results) if self.paths.results.exists() else [],
                dataset_id=self.dataset_id,
                suite=self.info.suite,
                console=self.console,
            )

    def _gpus(self, space: SearchSpace) -> float:
        return self.gpus if get_family(space.family).kind == "neural" else 0.0

    def _cost(self, space: SearchSpace, plan: RepeatPlan) -> RepeatCost:
        resources = plan_resources(
            self.cluster,
            cpus_per_trial=self.opts.cpus_per_trial or 1,
            gpus_per_trial=self._gpus(space),
            num_samples=len(plan.pending),
        )
        return RepeatCost.of(plan.best, resources.max_concurrent_trials)

    def _options(self, space: SearchSpace, window: float, **extra: Any) -> TuneOptions:
        return tune_options(
            self.opts, self.paths, self.dataset_id, self._gpus(space), window, **extra
        )


def same_data(paths: RunPaths, dataset: EncodedDataset, earlier: RunState | None) -> str:
    """The dataset's id (its cache key); an earlier run on the folder must have used the same.

    Raises:
        HarnessError: the folder's earlier run was on other data.
    """
    dataset_id = Path(dataset.cache_dir).name if dataset.cache_dir else dataset.name
    if earlier is not None and earlier.dataset_id not in ("", dataset_id):
        raise HarnessError(
            f"{paths.run_dir} was run on other data (cache {earlier.dataset_id}, now "
            f"{dataset_id}: another --data, --protocol, --min-count or --seed?); pass the same "
            "options, or --fresh to start over"
        )
    return dataset_id


def check_optuna_storage(storage_url: str | None) -> None:
    """``--optuna-storage``: connects once before any data is read (a missing driver or a
    server that refuses the connection is a one-line `HarnessError`)."""
    if storage_url is not None:
        from harness.tuning.studies import open_storage  # imports optuna

        open_storage(storage_url)


def close_stale(paths: RunPaths, console: Console, storage_url: str | None = None) -> None:
    """Closes the Optuna trials a killed run left running, with their rows (under the lock).

    In a database other run folders share (``storage_url``), only this folder's trials.
    """
    if storage_url is None and not paths.studies.exists():
        return
    from harness.tuning.studies import close_stale_trials, open_storage, run_folder_id

    recorded = {
        (r.study, r.study_trial): r
        for r in (read_results(paths.results) if paths.results.exists() else [])
        if r.study_trial is not None
    }
    closed = close_stale_trials(
        open_storage(storage_url or paths.studies),
        lambda rows: append_results(paths.results, rows),
        recorded,
        # The folder's own SQLite file holds only its trials (even after the folder moved).
        owner=None if storage_url is None else run_folder_id(paths.run_dir),
    )
    if closed:
        console.print(f"{closed} trials left running by an earlier run recorded as interrupted")


def _trials_done(paths: RunPaths, dataset_id: str) -> dict[tuple[str, str], int]:
    """(model, fingerprint) -> trials that ended on this data (interrupted ones do not count)."""
    if not paths.results.exists():
        return {}
    done: dict[tuple[str, str], int] = {}
    for r in read_results(paths.results):
        if r.dataset == dataset_id and r.status != "interrupted" and is_search_trial(r):
            key = (r.model, r.space_fingerprint)
            done[key] = done.get(key, 0) + 1
    return done


def tune_options(
    opts: RunOptions,
    paths: RunPaths,
    dataset_id: str,
    gpus: float,
    window: float,
    **extra: Any,
) -> TuneOptions:
    """How trials run within ``window`` seconds: one model's search or repeats (a part of its
    share of the budget), or a study's trials (its own budget)."""
    from harness.tuning.tuner import TuneOptions  # imports ray

    return TuneOptions(
        suite=paths.label,
        study_db=paths.studies,
        results_path=paths.results,
        dataset_id=dataset_id,
        time_budget_s=LAUNCH_SHARE * window,
        hard_time_limit_s=max(1.0, window - TEARDOWN_S),
        seed=opts.seed,
        cpus_per_trial=opts.cpus_per_trial or 1,
        gpus_per_trial=gpus,
        address=opts.address,
        show_progress=opts.progress,
        storage_url=opts.optuna_storage,
        ray_dir=opts.storage_path,
        gpus_explicit=opts.gpus_per_trial is not None,
        teachers_dir=paths.teachers,
        **extra,
    )


def trial_gpus(opts: RunOptions, cluster_gpus: float) -> float:
    """GPUs per neural trial: ``--gpus-per-trial``, else one where the cluster has GPUs."""
    if opts.gpus_per_trial is not None:
        return opts.gpus_per_trial
    return 1.0 if cluster_gpus >= 1 else 0.0


def _repeats_left(
    rows: Sequence[TrialResult], dataset_id: str, space: SearchSpace, seeds: tuple[int, ...]
) -> int:
    """Repeat seeds the model's best trial so far still needs (0 before its search)."""
    plan = plan_repeat(
        rows, dataset=dataset_id, model=space.name, fingerprint=space.fingerprint, seeds=seeds
    )
    return 0 if plan is None else len(plan.pending)


def _save_test_labels(paths: RunPaths, dataset: EncodedDataset) -> None:
    """The test split's labels (first task, row order) beside the repeats' predictions."""
    target = paths.predictions / TEST_LABELS
    if target.exists():
        return
    labels = np.asarray(dataset.test.y).reshape(dataset.test.n_rows, -1)[:, 0]
    replace_atomically(target, lambda f: np.save(f, labels.astype(np.float32)))


def run_info(
    opts: RunOptions,
    suite: Suite,
    card: DatasetCard,
    dataset: EncodedDataset,
    spaces: Sequence[SearchSpace],
    paths: RunPaths,
    trials: int,
    budget: float,
) -> RunInfo:
    return RunInfo(
        suite=suite.name,
        title=dataset.title,
        synthetic=dataset.synthetic,
        source=dataset.source,
        protocol=_protocol_text(dataset.protocol),
        min_count=opts.min_count or suite.min_count or card.min_count,
        rows=(dataset.train.n_rows, dataset.valid.n_rows, dataset.test.n_rows),
        skipped_rows=dataset.skipped_rows,
        n_num=dataset.schema.n_num,
        n_cat=dataset.schema.n_cat,
        vocabulary=sum(dataset.schema.cardinalities),
        vectors=tuple(
            (v.name, v.width, f"text encoded by {v.model}" if v.source == "text" else "column")
            for v in dataset.schema.vectors
        ),
        started_at=f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        harness_version=harness.__version__,
        resources=_resources(opts.cpus_per_trial or 1, opts.address),
        trials_per_model=trials,
        time_budget_s=budget,
        results_path=str(paths.results),
        storage_url=_shown_storage(opts.optuna_storage, paths),
        models=tuple((s.name, s.family, s.description) for s in spaces),
        tasks=dataset.schema.labels,
        group=dataset.schema.query_group,
        card=card.path,
        command=opts.command,
        references=applicable_references(
            card.references,
            dataset.protocol,
            (dataset.train.n_rows, dataset.valid.n_rows, dataset.test.n_rows),
        ),
    )


def _shown_storage(storage_url: str | None, paths: RunPaths) -> str:
    """The studies' storage as the leaderboard names it: the URL (password masked) or the
    folder's SQLite file."""
    return f"sqlite:///{paths.studies}" if storage_url is None else masked_url(storage_url)


def write_leaderboard(
    paths: RunPaths,
    info: RunInfo,
    spaces: Sequence[SearchSpace],
    state: RunState,
    interrupted: bool,
    *,
    study_folders: Sequence[Path] = (),
) -> tuple[list[ModelSummary], list[StudySummary]]:
    """Writes the run's leaderboard (and the plot beside it), and keeps the header's facts in
    the run folder (``info.json``) for `harness leaderboard`."""
    # Every trial ever run on this exact data (same cache key) with the same search space (same
    # fingerprint), over every invocation on the folder; trials of an edited space are counted,
    # not ranked. Factor studies' trials get a section each, never a rank in the table.
    rows = (
        [r for r in read_results(paths.results) if r.dataset == state.dataset_id]
        if (paths.results.exists())
        else []
    )
    names = {r.factor_study for r in rows if r.factor_study}
    run = dataclasses.replace(
        info,
        interrupted=interrupted,
        invocations=state.search_invocations,
        started_at=state.invocations[0].started_at if state.invocations else info.started_at,
        wall_seconds=state.spent_total,
        environments=_environments(state),
        commands=tuple(dict.fromkeys(i.command for i in state.invocations if i.command)),
    )
    write_text_atomic(paths.info, run.to_json())
    board = Board(
        info=run,
        rows=rows,
        models={s.name: (get_family(s.family).kind, s.fingerprint) for s in spaces},
        wall_seconds=state.spent_s,
        asked=state.trials_per_model,
        run_dir=paths.run_dir,
        study_files=study_files_of(names, study_folders or study_dirs()),
    )
    return publish(board, paths.leaderboard, paths.plot)


def _environments(state: RunState) -> tuple[Environment, ...]:
    """The distinct environments the run's invocations recorded, in order."""
    seen = [i.environment for i in state.invocations if i.environment is not None]
    return tuple(dict.fromkeys(seen))
