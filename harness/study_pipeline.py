"""``harness run --study NAME``: a study's arms × seeds as Ray trials, then its leaderboard section.

Order, as for a search: the study files and the preset are checked before any data is read;
the folder is locked (a study is an addition to the run there, never a conflict: it needs
neither ``--resume`` nor ``--fresh``); the base configuration is chosen (`choose_base`); every
arm, merged into the base, is checked against the dataset's schema before any trial runs. Each
arm is a constant search space; every arm's seeds that are not recorded yet (trial k of an arm
trains with seed k) run through the same tuner as a search, in one Ray Tune run
(`tune_arms`): no ASHA pruning, rows tagged with the study and arm, appended to the same results
table. The trials start in arm order within ``--time-budget`` (default: the suite's), which the
study has for itself (the distillation teachers' refits, which run first, spend from it): its
time is recorded apart from the search's, whose budget it never spends. The leaderboard is
rewritten after each arm's last seed.
"""

from __future__ import annotations

import dataclasses
import functools
import signal
import time
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from harness.data.card import DatasetCard
from harness.data.schema import EncodedDataset
from harness.data.sources import resolve_data
from harness.errors import HarnessError, RunInterruptedError
from harness.families.registry import FAMILIES, get_family
from harness.leaderboard.console import curves_table, study_table
from harness.leaderboard.summary import StudySummary
from harness.pipeline import (
    MIN_SHARE_S,
    RunOptions,
    RunOutcome,
    checked_paths,
    close_stale,
    load_cached,
    load_models,
    open_run,
    prepare_data,
    run_info,
    same_data,
    search_space_dirs,
    suite_and_card,
    trial_gpus,
    tune_options,
    write_leaderboard,
)
from harness.results.table import TrialResult, is_search_trial, read_results
from harness.run_folder import RunLock, RunPaths, RunState
from harness.studies.arms import ArmPlan, arm_space, check_arm, pending_seeds
from harness.studies.base import StudyBase, choose_base
from harness.studies.files import StudyFile, load_studies, study_dirs
from harness.suites import Suite
from harness.teachers import find_teacher, prepare_teachers, teachers_asked
from harness.tuning.space import SearchSpace

__all__ = ["run_studies"]


def run_studies(opts: RunOptions, console: Console) -> RunOutcome:
    """Runs the studies of ``opts.studies`` on the suite's data (see the module docstring).

    Raises:
        HarnessError: a user mistake (a study file, the preset, an arm the data rejects), in
            one line, before any trial runs.
        RunInterruptedError: Ctrl-C stopped the run; what finished is on the leaderboard.
    """
    assert opts.studies is not None
    suite, card = suite_and_card(opts)
    studies = load_studies(opts.studies, study_dirs(opts.search_spaces))
    model_dirs = search_space_dirs(opts.search_spaces)
    preset = _preset(opts.models, model_dirs)
    source = resolve_data(card, opts.data, valid=opts.valid, test=opts.test)
    paths = checked_paths(opts, suite, source)
    with RunLock(paths):
        earlier = open_run(paths, opts, console)
        dataset = prepare_data(card, suite, opts, source, console)
        dataset_id = same_data(paths, dataset, earlier)
        state = dataclasses.replace(
            earlier or RunState(dataset_id, 0.0, 0), dataset_id=dataset_id
        ).started(opts.command or "harness run", study=True)
        state.save(paths.state)
        close_stale(paths, console, opts.optuna_storage)
        rows = read_results(paths.results) if paths.results.exists() else []
        base = choose_base(
            [r for r in rows if r.dataset == dataset_id],
            dataset=dataset_id,
            neural_families={n for n, f in FAMILIES.items() if f.kind == "neural"},
            preset=preset,
            load_preset=lambda name: load_models([name], model_dirs)[0],
            results=str(paths.results),
        )
        console.print(f"study base: {escape(base.source)}")
        seeds = tuple(opts.seed + i for i in range(opts.seeds))
        with console.status("checking every arm against the dataset's schema"):
            plans = _plans(studies, base, rows, dataset, dataset_id, seeds)
        console.print(
            f"studies: {len(plans)} arms fit the dataset; {sum(len(p.pending) for p in plans)} "
            f"trials to run ({len(seeds)} seeds per arm, those recorded already are kept)"
        )
        plans = _with_teachers(plans, rows, dataset_id, suite.name, console)
        teachers_started = time.monotonic()
        prepare_teachers(
            teachers_asked(p.space for p in plans if p.pending),
            paths.teachers,
            dataset,
            rows,
            dataset_id=dataset_id,
            suite=suite.name,
            console=console,
        )
        teachers_s = time.monotonic() - teachers_started
        searched = _searched_spaces(rows, dataset_id, model_dirs)
        return _run(
            opts, suite, card, dataset, paths, state, plans, searched, console, spent_s=teachers_s
        )


def _with_teachers(
    plans: list[ArmPlan],
    rows: Sequence[TrialResult],
    dataset_id: str,
    suite: str,
    console: Console,
) -> list[ArmPlan]:
    """The arms whose distillation teacher this folder can give (every arm without one); each
    other arm is left out with a line saying what to run first, and the study goes on."""
    kept: list[ArmPlan] = []
    for plan in plans:
        try:
            for name in teachers_asked([plan.space]):
                find_teacher(name, rows, dataset_id=dataset_id, suite=suite)
        except HarnessError as e:
            arm = f"{plan.study.name}/{plan.arm.name}"
            console.print(f"[yellow]{escape(arm)}: not run: {escape(str(e))}[/]")
            continue
        kept.append(plan)
    return kept


def _preset(models: tuple[str, ...] | None, folders: Sequence[Path]) -> SearchSpace | None:
    """The one neural model named with ``--models`` (None: not named)."""
    if models is None:
        return None
    if len(models) != 1:
        raise HarnessError(
            f"--study varies one neural model: give one with --models, got {len(models)} "
            f"({', '.join(models)})"
        )
    (space,) = load_models(models, folders)
    family = get_family(space.family)
    if family.kind != "neural":
        raise HarnessError(
            f"--models {space.name}: a study varies the parts of a neural ranker; {space.name} "
            f"is a {space.family} model"
        )
    return space


def _plans(
    studies: Sequence[StudyFile],
    base: StudyBase,
    rows: Sequence[TrialResult],
    dataset: EncodedDataset,
    dataset_id: str,
    seeds: tuple[int, ...],
) -> list[ArmPlan]:
    """Every arm merged into the base and checked against the dataset, with its seeds to run."""
    validate = functools.partial(get_family(base.family).validate, data=dataset)
    against = (
        f"{dataset.title} ({dataset.schema.n_num} numeric, {dataset.schema.n_cat} categorical, "
        f"{len(dataset.schema.labels)} task(s))"
    )
    plans = []
    for study in studies:
        for arm in study.arms:
            space = arm_space(study, arm, base)
            check_arm(space, validate, against=against)
            pending = pending_seeds(
                rows,
                dataset=dataset_id,
                study=study.name,
                arm=arm.name,
                fingerprint=space.fingerprint,
                seeds=seeds,
            )
            plans.append(ArmPlan(study, arm, base, space, seeds, pending))
    return plans


def _searched_spaces(
    rows: Sequence[TrialResult], dataset_id: str, folders: Sequence[Path]
) -> list[SearchSpace]:
    """The search spaces of the models searched in the folder (for the leaderboard's table);
    a model whose file is gone or no longer loads is left out."""
    names = dict.fromkeys(r.model for r in rows if r.dataset == dataset_id and is_search_trial(r))
    spaces = []
    for name in names:
        try:
            spaces += load_models([name], folders)
        except HarnessError:
            continue
    return spaces


def _run(
    opts: RunOptions,
    suite: Suite,
    card: DatasetCard,
    dataset: EncodedDataset,
    paths: RunPaths,
    state: RunState,
    plans: Sequence[ArmPlan],
    searched: Sequence[SearchSpace],
    console: Console,
    *,
    spent_s: float = 0.0,
) -> RunOutcome:
    """The arms' pending seeds as Ray trials within the study's budget, less ``spent_s`` (the
    distillation teachers' refits, which run first), then the leaderboard."""
    from harness.tuning.stop import StopRequest  # these import ray
    from harness.tuning.tuner import ArmTrials, StudyArm, ray_session, tune_arms

    default_budget = suite.synthetic_time_budget_s if dataset.synthetic else suite.time_budget_s
    asked = opts.time_budget_s or default_budget
    budget = asked - spent_s
    info = run_info(
        opts, suite, card, dataset, searched, paths, state.trials_per_model, state.time_budget_s
    )
    folders = study_dirs(opts.search_spaces)
    todo = [p for p in plans if p.pending]
    for p in plans:
        if not p.pending:
            console.print(f"{p.study.name}: {p.arm.name}: every seed already recorded")
    if todo and budget < MIN_SHARE_S:
        less = f", less {spent_s:.0f} s of distillation teachers' refits," if spent_s >= 1 else ""
        console.print(
            f"[yellow]the time budget of {asked:g} s{less} leaves under {MIN_SHARE_S:g} s: no "
            "study trial ran; pass a larger --time-budget[/]"
        )
        todo = []
    left = {(p.study.name, p.arm.name): len(p.pending) for p in todo}
    stop = StopRequest()
    this_run: list[TrialResult] = []
    outcome = "failed"
    last = time.monotonic()

    def recorded(row: TrialResult) -> None:
        # After every trial: the run's record; after an arm's last seed: the leaderboard.
        nonlocal state, last
        now = time.monotonic()
        state = state.study_spent(row.factor_study, now - last)
        state.save(paths.state)
        last = now
        key = (row.factor_study, row.arm)
        if row.status == "interrupted":  # run again by the next study run
            return
        left[key] = left.get(key, 0) - 1
        if left[key] <= 0:
            write_leaderboard(paths, info, searched, state, False, study_folders=folders)

    try:
        if todo:
            with (
                ray_session(opts.address) as cluster,
                stop.listening(lambda text: console.print(f"[yellow]{text}[/]")),
            ):
                gpus = trial_gpus(opts, cluster.gpus)
                last = time.monotonic()
                this_run = tune_arms(
                    [
                        ArmTrials(
                            p.space, StudyArm(p.study.name, p.arm.name, p.base.source), p.pending
                        )
                        for p in todo
                    ],
                    dataset,
                    tune_options(opts, paths, state.dataset_id, gpus, budget),
                    load_dataset=load_cached,
                    console=console,
                    stop=stop,
                    on_row=recorded,
                    label=", ".join(dict.fromkeys(p.study.name for p in todo)),
                )
            unrun = sorted({f"{s}: {a}" for (s, a), n in left.items() if n > 0})
            if unrun and not stop.requested:
                console.print(
                    f"[yellow]the time budget of {asked:g} s ended before every seed of "
                    f"{', '.join(unrun)} ran; the same command runs the seeds left[/]"
                )
        outcome = "interrupted" if stop.requested else "finished"
    except KeyboardInterrupt:
        outcome = "interrupted"
    finally:
        state = state.ended(outcome)
        state.save(paths.state)
    summaries, studies = write_leaderboard(
        paths, info, searched, state, outcome == "interrupted", study_folders=folders
    )
    names = {p.study.name for p in plans}
    shown: list[StudySummary] = [s for s in studies if s.study in names]
    for s in shown:
        console.print(study_table(s))
        if s.curves:
            console.print(curves_table(s))
    console.print(
        f"leaderboard: {escape(str(paths.leaderboard))}\nevery trial: {escape(str(paths.results))}"
    )
    if outcome == "interrupted":
        raise RunInterruptedError(
            f"interrupted: {len(this_run)} study trials recorded in this run, the leaderboard of "
            f"what finished is {paths.leaderboard}; the same command continues it",
            signum=stop.signum or signal.SIGINT,
        )
    return RunOutcome(paths, dataset, tuple(summaries), tuple(this_run), tuple(shown))
